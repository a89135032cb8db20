using System.Text.RegularExpressions;
using Xunit;

namespace SharpLM.Tests.Chat;

/// <summary>Chat (templates, the Jinja engine, messages) sits below everything that uses it: generation, serving,
/// export, training data. It may use Tokenization and the JSON and file helpers of Formats, nothing else of the
/// library's higher parts.</summary>
public sealed partial class ChatDependenciesTests
{
    static readonly string[] Above = ["Data", "Training", "Generation", "Formats", "Adapters", "Evaluation", "Cli"];

    // Until they move to a layer of their own.
    static readonly string[] AllowedFromFormats = ["JsonFile", "InputFile", "AtomicFile"];

    [Fact]
    public void ChatUsesNothingAboveIt()
    {
        string src = Path.Combine(Repository.Root, "src", "SharpLM");
        var formatsTypes = Directory.GetFiles(Path.Combine(src, "Formats"), "*.cs", SearchOption.AllDirectories)
            .SelectMany(f => TypeDeclaration().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value))
            .Except(AllowedFromFormats).ToHashSet();
        var files = Directory.GetFiles(Path.Combine(src, "Chat"), "*.cs", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        var problems = new List<string>();
        foreach (var file in files)
        {
            var lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                string code = Comment().Replace(lines[i], "");
                string where = $"{Path.GetRelativePath(src, file)}:{i + 1}";
                foreach (Match m in Reference().Matches(code))
                {
                    string part = m.Groups[1].Value;
                    bool allowedUsing = part == "Formats" && code.Trim() == "using SharpLM.Formats;";
                    if (Above.Contains(part) && !allowedUsing) problems.Add($"{where}: {code.Trim()}");
                }
                foreach (Match m in Identifier().Matches(code))
                    if (formatsTypes.Contains(m.Value)) problems.Add($"{where}: uses Formats' {m.Value}");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [GeneratedRegex(@"^\s*(?:public|internal)?\s*(?:sealed |static |abstract |readonly |partial )*(?:class|record|struct|enum|interface)\s+(\w+)", RegexOptions.Multiline)]
    private static partial Regex TypeDeclaration();

    [GeneratedRegex(@"//.*$")]
    private static partial Regex Comment();

    /// <summary><c>using SharpLM.Data;</c>, <c>SharpLM.Data.X</c> or <c>Data.X</c>.</summary>
    [GeneratedRegex(@"(?<![\w.])(?:SharpLM\.)?(\w+)(?=\s*[.;])")]
    private static partial Regex Reference();

    [GeneratedRegex(@"\b[A-Z]\w*\b")]
    private static partial Regex Identifier();
}
