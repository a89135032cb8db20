using System.Runtime.InteropServices;

namespace SharpLM.Runtime;

/// <summary>The few calls of MPICH's C API that data-parallel training needs. MPICH's handles are plain ints (MS-MPI
/// shares that ABI; Open MPI's handles are pointers, so it cannot stand in). Loaded only when a process joins an MPI
/// world, so nothing needs MPI installed otherwise.</summary>
internal static unsafe partial class Mpi
{
    const string Library = "libmpich.so.12";

    public const int CommWorld = 0x44000000;
    public const int Double = 0x4c00080b, Float = 0x4c00040a;
    public const int Sum = 0x58000003, Max = 0x58000001;
    public static readonly void* InPlace = (void*)-1;
    public static readonly void* StatusIgnore = (void*)1;

    [LibraryImport(Library, EntryPoint = "MPI_Init")]
    public static partial int Init(IntPtr argc, IntPtr argv);

    [LibraryImport(Library, EntryPoint = "MPI_Finalize")]
    public static partial int Finalize();

    [LibraryImport(Library, EntryPoint = "MPI_Comm_rank")]
    public static partial int CommRank(int comm, out int rank);

    [LibraryImport(Library, EntryPoint = "MPI_Comm_size")]
    public static partial int CommSize(int comm, out int size);

    [LibraryImport(Library, EntryPoint = "MPI_Allreduce")]
    public static partial int Allreduce(void* send, void* receive, int count, int datatype, int op, int comm);

    [LibraryImport(Library, EntryPoint = "MPI_Iallreduce")]
    public static partial int Iallreduce(void* send, void* receive, int count, int datatype, int op, int comm, out int request);

    [LibraryImport(Library, EntryPoint = "MPI_Test")]
    public static partial int Test(ref int request, out int flag, void* status);

    [LibraryImport(Library, EntryPoint = "MPI_Wait")]
    public static partial int Wait(ref int request, void* status);

    [LibraryImport(Library, EntryPoint = "MPI_Reduce_scatter")]
    public static partial int ReduceScatter(void* send, void* receive, int* receiveCounts, int datatype, int op, int comm);

    [LibraryImport(Library, EntryPoint = "MPI_Allgatherv")]
    public static partial int Allgatherv(void* send, int sendCount, int sendType, void* receive, int* receiveCounts, int* displacements,
        int receiveType, int comm);

    [LibraryImport(Library, EntryPoint = "MPI_Abort")]
    public static partial int Abort(int comm, int errorCode);
}
