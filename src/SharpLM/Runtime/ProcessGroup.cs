namespace SharpLM.Runtime;

/// <summary>
/// The processes that train one model together (data parallelism): each has a rank, rank 0 is the main one, and
/// they sum values across all ranks. A process started by <c>mpiexec -n N</c> joins the MPI world of N ranks; any
/// other process is a group of one, where every operation is a no-op.
/// </summary>
public sealed class ProcessGroup : IDisposable
{
    // MPI's counts are ints: larger buffers go in pieces.
    const int MaxCount = 1 << 30;
    readonly bool mpi;

    ProcessGroup(int rank, int size, bool mpi)
    {
        Rank = rank;
        Size = size;
        this.mpi = mpi;
    }

    /// <summary>One process on its own.</summary>
    public static ProcessGroup Single { get; } = new(0, 1, mpi: false);

    public int Rank { get; }
    public int Size { get; }
    public bool IsMain => Rank == 0;

    /// <summary>Joins the MPI world when the process was started by MPICH's launcher (mpiexec/Hydra sets PMI_SIZE),
    /// else <see cref="Single"/>. MPI_Init is process-wide and once per process: the host calls this, at start.</summary>
    public static ProcessGroup FromEnvironment()
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable("PMI_SIZE"), out int size) || size <= 1) return Single;
        try
        {
            Check(Mpi.Init(IntPtr.Zero, IntPtr.Zero), "MPI_Init");
        }
        catch (DllNotFoundException e)
        {
            throw new SharpLMException($"started by an MPI launcher (PMI_SIZE={size}) but MPICH's libmpich.so.12 was not found: " +
                                       $"install MPICH (Debian: apt-get install mpich) ({e.Message})", e);
        }
        Check(Mpi.CommRank(Mpi.CommWorld, out int rank), "MPI_Comm_rank");
        Check(Mpi.CommSize(Mpi.CommWorld, out int worldSize), "MPI_Comm_size");
        return new ProcessGroup(rank, worldSize, mpi: true);
    }

    /// <summary>The bytes each rank sends to reduce-scatter or to all-gather <paramref name="bytes"/> with a ring
    /// algorithm: (N - 1) / N of them. An all-reduce is both, so twice that.</summary>
    public long RingShare(long bytes) => bytes * (Size - 1) / Size;

    /// <summary>Replaces each value with its sum over all ranks.</summary>
    public unsafe void AllReduceSum(Span<float> values) => Reduce(values, Mpi.Float, Mpi.Sum);

    /// <summary>Replaces each value with its sum over all ranks.</summary>
    public unsafe void AllReduceSum(Span<double> values) => Reduce(values, Mpi.Double, Mpi.Sum);

    /// <summary>Replaces each value with its largest over all ranks.</summary>
    public unsafe void AllReduceMax(Span<double> values) => Reduce(values, Mpi.Double, Mpi.Max);

    /// <summary>Starts replacing <paramref name="count"/> floats at <paramref name="values"/> with their sum over all ranks
    /// and returns at once (MPI_Iallreduce). The memory must stay where it is until <see cref="Wait"/> returns.</summary>
    public unsafe int StartAllReduceSum(float* values, int count)
    {
        if (!mpi) return 0;
        Check(Mpi.Iallreduce(Mpi.InPlace, values, count, Mpi.Float, Mpi.Sum, Mpi.CommWorld, out int request), "MPI_Iallreduce");
        return request;
    }

    /// <summary>Lets MPI move a started reduction forward (MPICH progresses only inside its calls); true when it is done.</summary>
    public unsafe bool Test(ref int request)
    {
        if (!mpi) return true;
        Check(Mpi.Test(ref request, out int done, Mpi.StatusIgnore), "MPI_Test");
        return done != 0;
    }

    /// <summary>Waits for a started reduction to finish.</summary>
    public unsafe void Wait(ref int request)
    {
        if (mpi) Check(Mpi.Wait(ref request, Mpi.StatusIgnore), "MPI_Wait");
    }

    /// <summary>Sums <paramref name="send"/> over all ranks and gives each rank only its own part of the sum: rank r gets
    /// <paramref name="counts"/>[r] values, the ones after those of ranks 0..r-1 (MPI_Reduce_scatter).</summary>
    public unsafe void ReduceScatterSum(ReadOnlySpan<float> send, Span<float> receive, int[] counts)
    {
        if (counts.Length != Size || counts.Sum() != send.Length || receive.Length != counts[Rank])
            throw new ArgumentException("ReduceScatterSum: one count per rank, summing to the values sent; this rank's count received");
        if (!mpi)
        {
            send.CopyTo(receive);
            return;
        }
        fixed (float* s = send, r = receive)
        fixed (int* c = counts)
            Check(Mpi.ReduceScatter(s, r, c, Mpi.Float, Mpi.Sum, Mpi.CommWorld), "MPI_Reduce_scatter");
    }

    /// <summary>Each rank r contributes its <paramref name="counts"/>[r] values, in place at their offset in
    /// <paramref name="values"/>, and every rank gets all of them (MPI_Allgatherv).</summary>
    public unsafe void AllGather(Span<float> values, int[] counts)
    {
        if (counts.Length != Size || counts.Sum() != values.Length)
            throw new ArgumentException("AllGather: one count per rank, summing to the values");
        if (!mpi) return;
        var offsets = new int[Size];
        for (int r = 1; r < Size; r++) offsets[r] = offsets[r - 1] + counts[r - 1];
        fixed (float* v = values)
        fixed (int* c = counts, o = offsets)
            Check(Mpi.Allgatherv(Mpi.InPlace, 0, Mpi.Float, v, c, o, Mpi.Float, Mpi.CommWorld), "MPI_Allgatherv");
    }

    unsafe void Reduce<T>(Span<T> values, int datatype, int op) where T : unmanaged
    {
        if (!mpi) return;
        fixed (T* p = values)
            for (int start = 0; start < values.Length; start += MaxCount)
                Check(Mpi.Allreduce(Mpi.InPlace, p + start, Math.Min(MaxCount, values.Length - start), datatype, op, Mpi.CommWorld), "MPI_Allreduce");
    }

    static void Check(int code, string call)
    {
        if (code != 0) throw new SharpLMException($"{call} failed with MPI error code {code}");
    }

    /// <summary>Leaves the MPI world (MPI_Finalize); a group of one has nothing to leave.</summary>
    public void Dispose()
    {
        if (mpi) Mpi.Finalize();
    }
}
