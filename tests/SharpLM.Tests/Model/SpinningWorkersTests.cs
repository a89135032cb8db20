using SharpLM.Model;
using Xunit;

namespace SharpLM.Tests.Model;

public sealed class SpinningWorkersTests
{
    [Fact]
    public void EveryPartRunsOnceAndAFailingPartIsReportedWithoutBreakingTheWorkers()
    {
        var counts = new int[4];
        // Another test may hold the workers at this moment: then TryRun runs nothing and says so.
        while (!SpinningWorkers.TryRun(4, part => Interlocked.Increment(ref counts[part]))) Thread.Yield();
        Assert.All(counts, c => Assert.Equal(1, c));

        var e = Assert.Throws<AggregateException>(() =>
        {
            while (!SpinningWorkers.TryRun(3, part => { if (part == 2) throw new InvalidOperationException("part 2"); })) Thread.Yield();
        });
        Assert.Equal("part 2", e.InnerException!.Message);

        Array.Clear(counts);
        while (!SpinningWorkers.TryRun(4, part => Interlocked.Increment(ref counts[part]))) Thread.Yield();
        Assert.All(counts, c => Assert.Equal(1, c));
    }

    [Fact]
    public void ASplitOfManyRowsCoversEachRowOnce()
    {
        var seen = new int[1000];
        OutputRowSplit.Run(1000, 3, (first, end) =>
        {
            for (int i = first; i < end; i++) Interlocked.Increment(ref seen[i]);
        });
        Assert.All(seen, c => Assert.Equal(1, c));
    }
}
