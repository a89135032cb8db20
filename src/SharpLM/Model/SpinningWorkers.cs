using System.Diagnostics;

namespace SharpLM.Model;

/// <summary>
/// Threads that take parts of a decoding step's matrix products and, between products, spin for a short while before
/// they sleep. A step is dozens of products of tens of microseconds each: handing a part to a spinning thread costs a
/// write it sees at once, where waking a sleeping one (the .NET thread pool, OpenMP) costs about as much as the part
/// (llama.cpp's thread pool spins for the same reason). One split runs at a time; a caller that finds the workers busy
/// (another thread decoding) gets false and runs its product another way.
/// </summary>
static class SpinningWorkers
{
    /// <summary>How long an idle worker spins before it sleeps: longer than the gaps between a step's products.</summary>
    static readonly long SpinTicks = Stopwatch.Frequency / 2000; // 0.5 ms

    static readonly Lock gate = new();
    static readonly List<Worker> workers = [];

    /// <summary>Runs <paramref name="part"/>(0 .. parts-1), part 0 on the calling thread and the others on workers, and
    /// returns when all are done; false (nothing run) when another split is under way.</summary>
    public static bool TryRun(int parts, Action<int> part)
    {
        if (!gate.TryEnter()) return false;
        try
        {
            while (workers.Count < parts - 1) workers.Add(new Worker());
            for (int i = 1; i < parts; i++) workers[i - 1].Post(part, i);
            Exception? failure = null;
            try
            {
                part(0);
            }
            catch (Exception e)
            {
                failure = e;
            }
            for (int i = 1; i < parts; i++) failure ??= workers[i - 1].WaitDone();
            if (failure is not null) throw new AggregateException(failure);
            return true;
        }
        finally
        {
            gate.Exit();
        }
    }

    sealed class Worker
    {
        const int Idle = 0, Posted = 1, Done = 2;
        readonly ManualResetEventSlim wake = new(false);
        int state, sleeping;
        Action<int>? job;
        int index;
        Exception? failure;

        public Worker()
        {
            new Thread(Loop) { IsBackground = true, Name = "SharpLM product worker" }.Start();
        }

        public void Post(Action<int> job, int index)
        {
            (this.job, this.index, failure) = (job, index, null);
            Interlocked.Exchange(ref state, Posted);
            if (Interlocked.CompareExchange(ref sleeping, 0, 0) == 1) wake.Set();
        }

        /// <summary>Spins until the posted part is done; returns what it threw, if anything.</summary>
        public Exception? WaitDone()
        {
            var spinner = new SpinWait();
            while (Volatile.Read(ref state) != Done) spinner.SpinOnce(sleep1Threshold: -1);
            Volatile.Write(ref state, Idle);
            return failure;
        }

        void Loop()
        {
            while (true)
            {
                WaitForPost();
                try
                {
                    job!(index);
                }
                catch (Exception e)
                {
                    failure = e;
                }
                job = null;
                Volatile.Write(ref state, Done);
            }
        }

        void WaitForPost()
        {
            long until = Stopwatch.GetTimestamp() + SpinTicks;
            while (Volatile.Read(ref state) != Posted)
            {
                if (Stopwatch.GetTimestamp() < until)
                {
                    // Yielding, not pausing: a thread that wants this core meanwhile (libtorch's, between a prompt's products)
                    // gets it at once instead of sharing it with a spinner.
                    Thread.Yield();
                    continue;
                }
                wake.Reset();
                Interlocked.Exchange(ref sleeping, 1);
                if (Volatile.Read(ref state) != Posted) wake.Wait();
                Interlocked.Exchange(ref sleeping, 0);
                until = Stopwatch.GetTimestamp() + SpinTicks;
            }
        }
    }
}
