using SharpLM.Runtime;
using static TorchSharp.torch;

namespace SharpLM.Cli;

/// <summary>The processes this command trains with: one, or the MPI world when started by <c>mpiexec -n N</c>. Only the
/// main rank (0) writes anything: progress, results, metrics, checkpoints and the final model; the other ranks train
/// their slices silently and report only their errors.</summary>
static class Distributed
{
    public static ProcessGroup Group { get; private set; } = ProcessGroup.Single;

    public static bool IsMain => Group.IsMain;

    /// <summary>Each rank's process id, so that the launcher's report of a lost process (by pid) names its rank.</summary>
    public static IReadOnlyList<int> ProcessIds { get; private set; } = [Environment.ProcessId];

    /// <summary>Joins the MPI world when launched by mpiexec; the ranks on one machine share its cores.</summary>
    public static ProcessGroup Join()
    {
        Group = ProcessGroup.FromEnvironment();
        if (Group.Size > 1)
        {
            int local = int.TryParse(Environment.GetEnvironmentVariable("MPI_LOCALNRANKS"), out int n) && n > 0 ? n : Group.Size;
            set_num_threads(Math.Max(1, Environment.ProcessorCount / local));
            var ids = new double[Group.Size];
            ids[Group.Rank] = Environment.ProcessId;
            Group.AllReduceSum(ids);
            ProcessIds = [.. ids.Select(id => (int)id)];
        }
        return Group;
    }
}
