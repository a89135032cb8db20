using System.Text;
using System.Text.RegularExpressions;
using SharpLM.Formats;

namespace SharpLM.Hub;

/// <summary>
/// Which of a repository's files <see cref="HubDownloader"/> fetches. <see cref="Model"/>: what loading a model or adapter
/// reads (configs, tokenizer, chat templates, safetensors weights: the shards the index names, not every .safetensors a
/// repository carries); <see cref="Dataset"/>: Parquet and JSONL files; <see cref="Matching"/>: glob patterns, as
/// huggingface_hub's allow_patterns. Pickled weights (.bin, .pt) are never fetched: loading them could run code.
/// </summary>
public sealed class HubFileSelection
{
    static readonly string[] PickleExtensions = [".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"];
    static readonly string[] DataExtensions = [".parquet", ".jsonl"];

    readonly Func<HubRepoId, IReadOnlyList<string>, IReadOnlyList<string>> choose;
    readonly Func<string, IReadOnlyList<string>> follow;

    HubFileSelection(Func<HubRepoId, IReadOnlyList<string>, IReadOnlyList<string>> choose,
        Func<string, IReadOnlyList<string>>? follow = null)
    {
        this.choose = choose;
        this.follow = follow ?? (_ => []);
    }

    /// <summary>A model or a LoRA adapter: everything <see cref="PretrainedModel.Load"/> may read.</summary>
    public static HubFileSelection Model { get; } = new(ChooseModelFiles, ShardsOfIndex);

    /// <summary>A dataset's Parquet and JSONL files; with <paramref name="split"/>, those of that split only, named as the
    /// Hub names splits (<c>data/train-00000-of-00001.parquet</c>, <c>test.jsonl</c>, <c>validation/0000.parquet</c>).</summary>
    public static HubFileSelection Dataset(string? split = null) => new((repo, files) => ChooseDataFiles(repo, files, split));

    /// <summary>The files matching any of <paramref name="patterns"/> (<c>*</c> also crosses '/'; a pattern ending in '/'
    /// takes a whole folder).</summary>
    public static HubFileSelection Matching(IReadOnlyList<string> patterns)
    {
        if (patterns.Count == 0) throw new SharpLMException("HubFileSelection.Matching: no pattern given");
        var regexes = patterns.Select(Glob).ToList();
        return new((repo, files) =>
        {
            var chosen = files.Where(f => regexes.Any(r => r.IsMatch(f))).ToList();
            if (chosen.Count == 0)
                throw new HubException(HubFailure.NotFound, $"{repo}: no file matches {string.Join(", ", patterns)}");
            RefusePickles(repo, chosen);
            return chosen;
        });
    }

    /// <summary>The files to fetch first, from the repository's file list.</summary>
    internal IReadOnlyList<string> Choose(HubRepoId repo, IReadOnlyList<string> files) => choose(repo, files);

    /// <summary>Files named by a fetched file (the shards of model.safetensors.index.json), fetched next.</summary>
    internal IReadOnlyList<string> Follow(string snapshotFolder) => follow(snapshotFolder);

    static IReadOnlyList<string> ChooseModelFiles(HubRepoId repo, IReadOnlyList<string> files)
    {
        var present = files.ToHashSet(StringComparer.Ordinal);
        string[] settings =
        [
            ModelFolder.ConfigFile, ModelFolder.GenerationConfigFile, ModelFolder.TokenizerFile, .. ModelFolder.CompanionFiles,
            AdapterFolder.ConfigFile,
        ];
        var chosen = settings.Where(present.Contains).Distinct().ToList();
        string[] weights = present.Contains(ModelFolder.IndexFile) ? [ModelFolder.IndexFile]
            : present.Contains(ModelFolder.WeightsFile) ? [ModelFolder.WeightsFile] : [];
        chosen.AddRange(weights);
        if (present.Contains(AdapterFolder.WeightsFile)) chosen.Add(AdapterFolder.WeightsFile);
        if (weights.Length == 0 && !present.Contains(AdapterFolder.WeightsFile))
        {
            var pickles = files.Where(f => !f.Contains('/') && IsPickle(f)).ToList();
            throw new HubException(HubFailure.Unsupported, pickles.Count > 0
                ? $"{repo} has its weights only as PyTorch pickles ({string.Join(", ", pickles.Take(3))}), which SharpLM does not load " +
                  "(unpickling can run code): it reads safetensors only. Look for a revision with model.safetensors (the Hub's " +
                  "conversion bot opens one as a pull request, refs/pr/N) or convert the weights with Python's safetensors"
                : $"{repo} has no {ModelFolder.WeightsFile}, {ModelFolder.IndexFile} or {AdapterFolder.WeightsFile} at its top level");
        }
        if (!present.Contains(ModelFolder.ConfigFile) && !present.Contains(AdapterFolder.ConfigFile))
            throw new HubException(HubFailure.Unsupported, $"{repo} has neither {ModelFolder.ConfigFile} nor {AdapterFolder.ConfigFile}");
        return chosen;
    }

    static IReadOnlyList<string> ShardsOfIndex(string snapshotFolder)
    {
        var index = Path.Combine(snapshotFolder, ModelFolder.IndexFile);
        return File.Exists(index) ? SafetensorsIndex.ShardFiles(index) : [];
    }

    static IReadOnlyList<string> ChooseDataFiles(HubRepoId repo, IReadOnlyList<string> files, string? split)
    {
        var data = files.Where(f => DataExtensions.Contains(Path.GetExtension(f).ToLowerInvariant())).ToList();
        if (data.Count == 0)
            throw new HubException(HubFailure.Unsupported, $"{repo} has no Parquet or JSONL files (found {Sample(files)}); " +
                                                           "the Hub's Parquet conversion may have them: revision refs/convert/parquet");
        if (split is null) return data;
        var ofSplit = new Regex($@"(^|/){Regex.Escape(split)}([-.][^/]*|/.*)$", RegexOptions.CultureInvariant);
        var chosen = data.Where(f => ofSplit.IsMatch(f)).ToList();
        return chosen.Count > 0 ? chosen
            : throw new HubException(HubFailure.NotFound, $"{repo} has no files of the split \"{split}\" (its data files: {Sample(data)})");
    }

    static string Sample(IReadOnlyList<string> files) =>
        files.Count == 0 ? "none" : string.Join(", ", files.Take(5)) + (files.Count > 5 ? $" and {files.Count - 5} more" : "");

    static bool IsPickle(string file) => PickleExtensions.Contains(Path.GetExtension(file).ToLowerInvariant());

    static void RefusePickles(HubRepoId repo, IReadOnlyList<string> files)
    {
        var pickles = files.Where(IsPickle).ToList();
        if (pickles.Count > 0)
            throw new HubException(HubFailure.Unsupported, $"{repo}: {Sample(pickles)} would be pickled PyTorch data, which SharpLM " +
                                                           "does not fetch (unpickling can run code); it reads safetensors only");
    }

    /// <summary>fnmatch's rules, which huggingface_hub's patterns follow: '*' any run of characters, '?' one, [...] a set.</summary>
    static Regex Glob(string pattern)
    {
        if (pattern.EndsWith('/')) pattern += "*";
        var regex = new StringBuilder("^");
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            int close = c == '[' ? pattern.IndexOf(']', i + 1) : -1;
            if (c == '*') regex.Append(".*");
            else if (c == '?') regex.Append('.');
            else if (close > i + 1)
            {
                var set = pattern[(i + 1)..close];
                regex.Append('[').Append(set.StartsWith('!') ? "^" + Regex.Escape(set[1..]) : Regex.Escape(set)).Append(']');
                i = close;
            }
            else regex.Append(Regex.Escape(c.ToString()));
        }
        return new Regex(regex.Append('$').ToString(), RegexOptions.CultureInvariant | RegexOptions.Singleline);
    }
}
