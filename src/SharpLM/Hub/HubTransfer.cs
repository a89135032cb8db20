namespace SharpLM.Hub;

/// <summary>How far the download of one file has come: <paramref name="Bytes"/> of <paramref name="Size"/> (null when the
/// Hub did not say), resumed transfers counting what an earlier attempt left.</summary>
public sealed record HubTransfer(string File, long Bytes, long? Size);
