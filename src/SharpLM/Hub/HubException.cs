namespace SharpLM.Hub;

/// <summary>A Hub download that failed, with the reason as data (<see cref="Failure"/>) beside the message.</summary>
public sealed class HubException(HubFailure failure, string message, Exception? inner = null) : SharpLMException(message, inner)
{
    public HubFailure Failure { get; } = failure;
}
