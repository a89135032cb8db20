using SharpLM.Adapters;
using SharpLM.Model;

namespace SharpLM.Hub;

/// <summary>What an adapter_config.json says (see <see cref="AdapterFolder.ReadConfig"/>).</summary>
/// <param name="Options">the LoRA settings</param>
/// <param name="BaseModel">base_model_name_or_path as written: a folder relative to the adapter folder, an absolute
/// folder, or a Hub name; null when absent</param>
/// <param name="BaseFingerprint">SharpLM's fingerprint of the base weights the adapter was trained on; null when absent</param>
/// <param name="AddedTokens">rows the base gets for tokens fine-tuning added to its tokenizer, before the adapter goes
/// on; null when none</param>
public sealed record AdapterConfig(LoraOptions Options, string? BaseModel, string? BaseFingerprint, AddedTokenRows? AddedTokens = null);
