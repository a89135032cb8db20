using System.Diagnostics;
using static TorchSharp.torch;

namespace SharpLM.Bench;

/// <summary>
/// SharpLM's and PyTorch's training steps alternated one by one, both engines' processes started and warmed up first, with
/// the fp32 matmul peak measured after each pair. This VM's speed moves by up to 1.5x within minutes: engines timed in
/// separate runs, even runs one right after the other, compared its moods as much as the engines, and a peak measured once
/// at the start said little about a step timed minutes later. Each child reads a command per line on stdin ("step",
/// "peak", "quit") and answers with one line ("seconds x", "gflops x"); see train_llama.py's --lockstep. After each answer
/// the child is left to go idle before the next command: PyTorch's OpenBLAS workers wait spinning for 50-100 ms after its
/// step ends, and that tail, timed, fell on the start of the next step or peak measured, SharpLM's or its own.
/// </summary>
static class LockstepComparison
{
    /// <summary>One pair: each engine's step in seconds, the fp32 matmul peak (GFLOP/s) measured right after them, and for
    /// how long (ms) each engine's process still used the CPU after answering its step.</summary>
    public sealed record Pair(double SharpLMSeconds, double PyTorchSeconds, double Peak, double SharpLMBusyAfter, double PyTorchBusyAfter);

    /// <summary>Runs <paramref name="pairs"/> pairs, the engine that goes first in turn; null when either child fails.</summary>
    public static List<Pair>? Run(ProcessStartInfo sharpLM, ProcessStartInfo pyTorch, int pairs)
    {
        using var ours = Child.Start(sharpLM);
        using var theirs = Child.Start(pyTorch);
        if (ours is null || theirs is null) return null;
        ours.WaitUntilIdle();
        theirs.WaitUntilIdle();
        var results = new List<Pair>();
        for (int i = 0; i < pairs; i++)
        {
            var (first, second) = i % 2 == 0 ? (ours, theirs) : (theirs, ours);
            double? firstSeconds = first.Ask("step", "seconds");
            double firstBusy = first.WaitUntilIdle();
            double? secondSeconds = second.Ask("step", "seconds");
            double secondBusy = second.WaitUntilIdle();
            double? peak = ours.Ask("peak", "gflops");
            ours.WaitUntilIdle();
            if (firstSeconds is null || secondSeconds is null || peak is null) return null;
            results.Add(i % 2 == 0
                ? new(firstSeconds.Value, secondSeconds.Value, peak.Value, firstBusy, secondBusy)
                : new(secondSeconds.Value, firstSeconds.Value, peak.Value, secondBusy, firstBusy));
        }
        return results;
    }

    /// <summary>The child's side, for `train --one --lockstep`: "ready", then one answer per command until "quit" or the end
    /// of stdin. The peak is the better of libtorch's square fp32 matmul and SharpLM's kernel on it, best of two each.</summary>
    public static int Serve(Action step)
    {
        Console.WriteLine("ready");
        while (Console.ReadLine() is { } command)
        {
            if (command == "step")
            {
                var clock = Stopwatch.StartNew();
                step();
                Console.WriteLine($"seconds {clock.Elapsed.TotalSeconds:F6}");
            }
            else if (command == "peak")
                Console.WriteLine($"gflops {Math.Max(MatmulPeak.Libtorch(ScalarType.Float32, repeats: 2), MatmulPeak.SharpLM(repeats: 2)):F1}");
            else break;
        }
        return 0;
    }

    /// <summary>A child process spoken to line by line; its other output lines are skipped.</summary>
    sealed class Child : IDisposable
    {
        readonly Process process;

        Child(Process process) => this.process = process;

        /// <summary>Starts it and waits for its "ready" (after its warm-up steps); null if it ends first.</summary>
        public static Child? Start(ProcessStartInfo info)
        {
            info.RedirectStandardInput = info.RedirectStandardOutput = true;
            info.UseShellExecute = false;
            var child = new Child(Process.Start(info)!);
            while (child.process.StandardOutput.ReadLine() is { } line)
                if (line == "ready") return child;
            child.Dispose();
            return null;
        }

        /// <summary>Waits until the child's threads have used no CPU for <see cref="QuietPolls"/> polls in a row (Linux's
        /// /proc; elsewhere it returns at once) and returns for how long (ms) they were still busy, to the last poll that saw
        /// their CPU time grow; at most 2 s.</summary>
        public double WaitUntilIdle()
        {
            const int QuietPolls = 3, PollMs = 10;
            var clock = Stopwatch.StartNew();
            long? last = CpuTicks();
            double busy = 0;
            for (int quiet = 0; last is not null && quiet < QuietPolls && clock.ElapsedMilliseconds < 2000;)
            {
                Thread.Sleep(PollMs);
                long? now = CpuTicks();
                if (now == last) quiet++;
                else (quiet, busy, last) = (0, clock.Elapsed.TotalMilliseconds, now);
            }
            return busy;
        }

        /// <summary>The CPU time (clock ticks, user and system) of all the child's threads; null without /proc.</summary>
        long? CpuTicks()
        {
            var tasks = $"/proc/{process.Id}/task";
            if (!Directory.Exists(tasks)) return null;
            long total = 0;
            foreach (var task in Directory.EnumerateDirectories(tasks))
            {
                try
                {
                    // Fields after the command's closing parenthesis: the 12th and 13th are utime and stime.
                    var fields = File.ReadAllText(Path.Combine(task, "stat")).Split(')')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    total += long.Parse(fields[11]) + long.Parse(fields[12]);
                }
                catch (IOException)
                {
                    // the thread ended between listing and reading
                }
            }
            return total;
        }

        /// <summary>Sends a command and returns the number in its answer line (the one starting with
        /// <paramref name="answer"/>), or null when the child ends first.</summary>
        public double? Ask(string command, string answer)
        {
            process.StandardInput.WriteLine(command);
            process.StandardInput.Flush();
            while (process.StandardOutput.ReadLine() is { } line)
                if (line.StartsWith(answer + " ") && double.TryParse(line[(answer.Length + 1)..], out var value)) return value;
            return null;
        }

        public void Dispose()
        {
            try
            {
                process.StandardInput.WriteLine("quit");
                process.StandardInput.Close();
                if (!process.WaitForExit(60_000)) process.Kill(entireProcessTree: true);
            }
            catch (IOException)
            {
                // it ended already
            }
            process.Dispose();
        }
    }
}
