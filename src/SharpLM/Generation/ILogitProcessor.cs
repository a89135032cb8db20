namespace SharpLM.Generation;

/// <summary>One step of turning next-token logits into a sampling distribution. Works in place on one row of
/// logits; <paramref name="context"/> is every token so far (prompt and generated), oldest first.</summary>
public interface ILogitProcessor
{
    void Process(Span<float> logits, ReadOnlySpan<int> context);
}
