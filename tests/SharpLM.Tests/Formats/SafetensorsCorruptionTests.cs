using SharpLM.Formats;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Formats;

public class SafetensorsCorruptionTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    const string TwoTensors =
        """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""";

    SharpLMException OpenFails(byte[] bytes, params string[] expectedParts)
    {
        string path = dir.Write("broken.safetensors", bytes);
        var e = Assert.Throws<SharpLMException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.StartsWith($"{path}: not a valid safetensors file: ", e.Message);
        foreach (string part in expectedParts) Assert.Contains(part, e.Message);
        return e;
    }

    [Fact]
    public void ValidBaselineOpens()
    {
        string path = dir.Write("ok.safetensors", SafetensorsBytes.Build(TwoTensors, new byte[12]));
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(2, file.Entries.Count);
    }

    [Fact]
    public void TruncatedDataNamesTheTensor()
    {
        byte[] bytes = SafetensorsBytes.Build(TwoTensors, new byte[12]);
        OpenFails(bytes[..^1], "\"b\"", "truncated");
    }

    [Fact]
    public void WriterOutputCutShortIsDetected()
    {
        using var scope = torch.NewDisposeScope();
        string path = dir.File("cut.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = torch.ones(100) });
        byte[] bytes = File.ReadAllBytes(path);
        OpenFails(bytes[..^10], "\"w\"");
    }

    [Fact]
    public void FileShorterThanTheLengthPrefix() => OpenFails([1, 2, 3], "3 bytes");

    [Fact]
    public void HeaderLengthLargerThanTheFile() =>
        OpenFails(SafetensorsBytes.Build(TwoTensors, new byte[12], declaredLength: 1UL << 40), "header length 1099511627776");

    [Fact]
    public void HeaderThatIsNotJson() =>
        OpenFails(SafetensorsBytes.Build("{\"a\": oops}", []), "malformed JSON");

    [Fact]
    public void OffsetsOutOfRange() =>
        OpenFails(SafetensorsBytes.Build("""{"a":{"dtype":"U8","shape":[100],"data_offsets":[0,100]}}""", new byte[10]),
            "\"a\"", "100", "10 bytes");

    [Fact]
    public void OverlappingTensors() =>
        OpenFails(SafetensorsBytes.Build(
            """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", new byte[8]),
            "overlap");

    [Fact]
    public void GapBetweenTensors() =>
        OpenFails(SafetensorsBytes.Build(
            """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", new byte[12]),
            "unused bytes before tensor \"b\"");

    [Fact]
    public void ShapeDoesNotMatchByteLength() =>
        OpenFails(SafetensorsBytes.Build("""{"a":{"dtype":"BF16","shape":[3],"data_offsets":[0,8]}}""", new byte[8]),
            "\"a\"", "needs 6 bytes", "span 8");

    [Fact]
    public void UnknownDType() =>
        OpenFails(SafetensorsBytes.Build("""{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}""", new byte[16]),
            "unknown dtype \"F128\"");

    [Fact]
    public void MissingField() =>
        OpenFails(SafetensorsBytes.Build("""{"a":{"dtype":"F32","data_offsets":[0,4]}}""", new byte[4]),
            "\"a\"", "\"shape\"");

    [Fact]
    public void NonStringMetadata() =>
        OpenFails(SafetensorsBytes.Build("""{"__metadata__":{"step":3}}""", []), "__metadata__");

    [Fact]
    public void MissingFileIsNamed()
    {
        string path = dir.File("absent.safetensors");
        var e = Assert.Throws<SharpLMException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
    }
}
