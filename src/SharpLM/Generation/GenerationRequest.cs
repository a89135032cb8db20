namespace SharpLM.Generation;

/// <summary>What one generation asks the model for.</summary>
/// <param name="Prompt">Token ids, already rendered (chat template, or plain text after the begin token).</param>
/// <param name="Options">Sampling, with the chat template's stop strings already added for chats.</param>
/// <param name="StopTokens">Ids that end the text when <see cref="SamplingOptions.StopAtEos"/>: the end tokens, and for
/// chats the template's stop strings that are one special token (decoding skips those, so they stop as ids); see
/// <see cref="Hub.PretrainedModel.StopTokens"/>.</param>
public sealed record GenerationRequest(int[] Prompt, SamplingOptions Options, IReadOnlySet<int> StopTokens);
