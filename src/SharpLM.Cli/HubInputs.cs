using SharpLM.Hub;
using Spectre.Console;

namespace SharpLM.Cli;

/// <summary>
/// Hub ids wherever the command line takes a model or data: <c>--model org/name[@revision]</c> and
/// <c>--data org/name[@revision][:split]</c> are fetched into the Hugging Face cache (or found there) and stand for the
/// snapshot folder. A local path that exists always wins. The HF_* variables huggingface_hub reads set the
/// <see cref="HubSettings"/>: HF_ENDPOINT, HF_TOKEN (else the token file `huggingface-cli login` writes), HF_HOME
/// (~/.cache/huggingface) or HF_HUB_CACHE, HF_HUB_OFFLINE.
/// </summary>
static class HubInputs
{
    /// <summary>The settings the environment gives, as huggingface_hub reads them.</summary>
    public static HubSettings Settings()
    {
        static string? Variable(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
        var home = Variable("HF_HOME")
                   ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "huggingface");
        var tokenFile = Variable("HF_TOKEN_PATH") ?? Path.Combine(home, "token");
        var endpoint = Variable("HF_ENDPOINT") ?? HubSettings.DefaultEndpoint.ToString();
        return new HubSettings
        {
            Endpoint = Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
                ? uri
                : throw new SharpLMException($"HF_ENDPOINT \"{endpoint}\": expected an http(s) address such as https://huggingface.co"),
            Token = Variable("HF_TOKEN") ?? (File.Exists(tokenFile) ? File.ReadAllText(tokenFile).Trim() is { Length: > 0 } t ? t : null : null),
            CacheFolder = Variable("HF_HUB_CACHE") ?? Path.Combine(home, "hub"),
            Offline = Variable("HF_HUB_OFFLINE")?.ToLowerInvariant() is "1" or "true" or "yes" or "on",
        };
    }

    /// <summary>A model given as <paramref name="given"/>: the folder itself when it exists, else the Hub snapshot of the id.</summary>
    public static string Model(string given) => TryModelId(given, out var repo) ? Download(repo, HubFileSelection.Model) : given;

    /// <summary>Whether <paramref name="given"/> names a Hub model rather than a path (a path that exists always wins).</summary>
    public static bool TryModelId(string given, out HubRepoId repo)
    {
        repo = null!;
        return !Path.Exists(given) && HubRepoId.TryParse(given, HubRepoType.Model, out repo);
    }

    /// <summary>The model and adapter folders to load for <c>--model</c> and <c>--adapter</c>. An adapter folder given alone
    /// whose base_model_name_or_path is a Hub id (as PEFT and `sharplm finetune --model org/name` write it) gets that
    /// base from the Hub; any other base is found by <see cref="AdapterBase"/>.</summary>
    public static (string Folder, string? Adapter) ModelAndAdapter(string model, string? adapter)
    {
        model = Model(model);
        if (adapter is not null) return (model, Model(adapter));
        if (!AdapterFolder.IsAdapterFolder(model) || File.Exists(Path.Combine(model, ModelFolder.ConfigFile))) return (model, null);
        var named = AdapterFolder.ReadConfig(model).BaseModel;
        bool local = named is null || Path.Exists(Path.Combine(model, named)) || Path.Exists(named);
        return local ? (AdapterBase.Resolve(model), model) : (Model(named!), model);
    }

    /// <summary>Whether <paramref name="given"/> is a Hub model or dataset id rather than a path (a path that exists wins).</summary>
    public static bool IsHubId(string given) => TryModelId(given, out _) || (!Path.Exists(given) && TryParseDataset(given, out _, out _));

    /// <summary>Data paths, each a file or folder, or a Hub dataset <c>org/name[@revision][:split]</c> (its Parquet and
    /// JSONL files, those of the split only when one is named).</summary>
    public static string[] Data(string[]? given) => given is null ? [] : [.. given.Select(DataPath)];

    /// <summary>How a data path is named in a model card's datasets: a Hub dataset by its id, a file by its name.</summary>
    public static string DatasetName(string given) =>
        !Path.Exists(given) && TryParseDataset(given, out var repo, out _) ? repo.Id : Path.GetFileName(Path.TrimEndingDirectorySeparator(given));

    static string DataPath(string given) =>
        !Path.Exists(given) && TryParseDataset(given, out var repo, out var split) ? Download(repo, HubFileSelection.Dataset(split)) : given;

    static bool TryParseDataset(string text, out HubRepoId repo, out string? split)
    {
        int colon = text.LastIndexOf(':');
        split = colon > 0 ? text[(colon + 1)..] : null;
        return HubRepoId.TryParse(colon > 0 ? text[..colon] : text, HubRepoType.Dataset, out repo) && split is not "";
    }

    /// <summary>Fetches what <paramref name="selection"/> chooses (progress on stderr) and returns the snapshot folder.</summary>
    public static string Download(HubRepoId repo, HubFileSelection selection)
    {
        var settings = Settings();
        try
        {
            if (settings.Offline || !AnsiConsole.Profile.Capabilities.Interactive)
            {
                // A log gets one line per file fetched rather than a live display.
                var started = new HashSet<string>();
                using var quiet = new HubDownloader(settings)
                {
                    Warning = Warn,
                    Progress = t =>
                    {
                        if (started.Add(t.File)) AnsiConsole.MarkupLineInterpolated($"[grey]{repo}: fetching {t.File} ({t.Size ?? 0:N0} bytes)[/]");
                    },
                };
                return Announce(repo, quiet.Download(repo, selection));
            }
            string snapshot = "";
            AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new DownloadedColumn(), new TransferSpeedColumn())
                .Start(ctx =>
                {
                    var tasks = new Dictionary<string, ProgressTask>();
                    using var hub = new HubDownloader(settings)
                    {
                        Warning = Warn,
                        Progress = t =>
                        {
                            lock (tasks)
                            {
                                if (!tasks.TryGetValue(t.File, out var task))
                                    tasks[t.File] = task = ctx.AddTask(Markup.Escape(t.File), maxValue: Math.Max(1, t.Size ?? t.Bytes));
                                task.Value = t.Bytes;
                            }
                        },
                    };
                    snapshot = hub.Download(repo, selection);
                });
            return Announce(repo, snapshot);
        }
        catch (HubException e)
        {
            // The library names its settings; say which variable sets each.
            throw new SharpLMException(e.Message.Replace("HubSettings.Token", "HF_TOKEN (or `huggingface-cli login`)", StringComparison.Ordinal)
                .Replace("HubSettings.Offline", "HF_HUB_OFFLINE", StringComparison.Ordinal), e);
        }
    }

    static string Announce(HubRepoId repo, string snapshot)
    {
        AnsiConsole.MarkupLineInterpolated($"[grey]{repo}: {snapshot}[/]");
        return snapshot;
    }

    static void Warn(string message) => AnsiConsole.MarkupLineInterpolated($"[yellow]warning:[/] {message}");
}
