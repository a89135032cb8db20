using System.CommandLine;
using SharpLM.Hub;

namespace SharpLM.Cli.Commands;

/// <summary>`sharplm download`: fetch a Hub model (or dataset) into the Hugging Face cache without running anything, and
/// print the snapshot folder (stdout) for other commands and scripts.</summary>
static class DownloadCommand
{
    public static Command Create()
    {
        var repo = new Argument<string>("repo") { Description = "The repository: org/name or org/name@revision (branch, tag, commit)." };
        var include = new Option<string[]>("--include")
        {
            Description = "Fetch the files matching these patterns (e.g. \"*.json\", \"onnx/\") instead of what a model needs.",
            AllowMultipleArgumentsPerToken = true,
        };
        var dataset = new Option<bool>("--dataset") { Description = "A dataset repository: its Parquet and JSONL files." };
        var cmd = new Command("download", "Fetch a model (or dataset) from the Hugging Face Hub into its cache, and print the folder.")
        {
            repo, include, dataset,
        };
        cmd.SetAction(parse =>
        {
            var type = parse.GetValue(dataset) ? HubRepoType.Dataset : HubRepoType.Model;
            var id = HubRepoId.Parse(parse.GetValue(repo)!, type);
            var patterns = parse.GetValue(include) ?? [];
            var selection = patterns.Length > 0 ? HubFileSelection.Matching(patterns)
                : type == HubRepoType.Dataset ? HubFileSelection.Dataset() : HubFileSelection.Model;
            Console.Out.WriteLine(HubInputs.Download(id, selection));
            return 0;
        });
        return cmd;
    }
}
