using System.Text.RegularExpressions;
using Xunit;

namespace SharpLM.Tests;

/// <summary>Every tensor the model, generation, training, evaluation, adapters and serving make is made on a device that
/// is named: libtorch's factories default to the CPU, so a factory call without <c>device:</c> would put a tensor on the
/// CPU beside a GPU model and fail only on a GPU machine, which these tests never run on. A call is allowed without one
/// only on the list below, with its reason. (Factories of the form <c>zeros_like(x)</c>, and operations on tensors, take
/// their input's device and are not checked.)</summary>
public sealed partial class TensorDeviceSourceTests
{
    static readonly string[] Folders = ["Model", "Generation", "Training", "Evaluation", "Adapters", "Serving"];

    const string Construction = "module construction: built on the CPU, then moved with its module by model.to(device)";

    /// <summary>(file under src/SharpLM, the call as written, why it needs no device).</summary>
    static readonly (string File, string Call, string Reason)[] Allowed =
    [
        ("Model/Llama.cs", "ones(size)", Construction),
        ("Model/Projection.cs", "empty(outFeatures, inFeatures)", Construction),
        ("Model/Projection.cs", "zeros(outFeatures)", Construction),
        ("Model/RotaryEmbedding.cs", "arange(maxPositions, dtype: float32)", Construction + " (its tables are buffers)"),
        ("Model/RopeFrequencies.cs", "arange(0, headDim, 2, dtype: int64)",
            "inv_freq for the rotary tables at construction (and for GGUF export and tests, on the CPU)"),
    ];

    [Fact]
    public void EveryTensorFactoryCallNamesADevice()
    {
        var src = Path.Combine(Repository.Root, "src", "SharpLM");
        var found = Folders.SelectMany(folder => Directory.EnumerateFiles(Path.Combine(src, folder), "*.cs", SearchOption.AllDirectories))
            .Order(StringComparer.Ordinal)
            .SelectMany(file => FactoryCalls(Path.GetRelativePath(src, file).Replace('\\', '/'), File.ReadAllText(file)))
            .ToList();
        Assert.True(found.Count >= 10, $"only {found.Count} factory calls found: is the scan still reading the sources?");
        var offenders = found.Where(c => !c.Call.Contains("device:") && !IsAllowed(c)).Select(c => $"{c.File}:{c.Line}: {c.Call}").ToList();
        Assert.True(offenders.Count == 0,
            "tensor factory calls without a device (pass device: the model's or the input's, or add the call to the allow-list with " +
            "a reason):\n" + string.Join("\n", offenders));
        var unused = Allowed.Where(a => !found.Any(c => c.File == a.File && c.Call == a.Call)).Select(a => $"{a.File}: {a.Call}").ToList();
        Assert.True(unused.Count == 0, "allow-list entries that match no call any more:\n" + string.Join("\n", unused));
    }

    [Fact]
    public void TheScanFindsCallsWithoutADevice()
    {
        const string source = """
            /// <summary>zeros(3) in a comment is not a call.</summary>
            var a = zeros(3, dtype: int64); // no device
            throw new SharpLMException($"a row is full ({Capacity} positions)"); // nor in a string
            var b = torch.arange(
                n, dtype: int64, device: x.device);
            var c = tensor(ids.Select(i => (long)i).ToArray(), dtype: int64).view(1, -1);
            var d = zeros_like(a);
            """;
        var calls = FactoryCalls("Model/Example.cs", source).ToList();
        Assert.Equal(["zeros(3, dtype: int64)", "torch.arange( n, dtype: int64, device: x.device)",
                      "tensor(ids.Select(i => (long)i).ToArray(), dtype: int64)"], calls.Select(c => c.Call));
        Assert.Equal([2, 4, 6], calls.Select(c => c.Line));
        Assert.Equal(2, calls.Count(c => !c.Call.Contains("device:") && !IsAllowed(c)));
    }

    static bool IsAllowed((string File, int Line, string Call) call) => Allowed.Any(a => a.File == call.File && a.Call == call.Call);

    /// <summary>Each factory call in C# source, comments and the text of string and character literals left out, with its
    /// line and its text up to the closing parenthesis (whitespace runs made one space).</summary>
    static IEnumerable<(string File, int Line, string Call)> FactoryCalls(string file, string source)
    {
        var code = CommentOrLiteral().Replace(source, m => m.Value[0] == '/' ? "" : m.Value[..1] + m.Value[^1..]);
        foreach (Match m in Factory().Matches(code))
        {
            int depth = 0, end = m.Index + m.Length - 1;
            for (; end < code.Length; end++)
            {
                if (code[end] == '(') depth++;
                else if (code[end] == ')' && --depth == 0) break;
            }
            var call = Whitespace().Replace(code[m.Index..Math.Min(end + 1, code.Length)], " ");
            yield return (file, code[..m.Index].Count(ch => ch == '\n') + 1, call);
        }
    }

    /// <summary>libtorch's factories that make a tensor from sizes or values, called bare or as <c>torch.name(</c>.</summary>
    [GeneratedRegex(@"(?<![\w.])(?:torch\.)?(?:zeros|ones|empty|full|tensor|as_tensor|from_array|scalar_tensor|arange|linspace|logspace|eye" +
                    @"|rand|randn|randint|randperm|normal|empty_strided)\s*\(")]
    private static partial Regex Factory();

    /// <summary>A line comment, a one-line string literal or a character literal, whichever starts first.</summary>
    [GeneratedRegex(@"//[^\n]*|""(?:[^""\\\n]|\\.)*""|'(?:[^'\\\n]|\\.)'")]
    private static partial Regex CommentOrLiteral();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
