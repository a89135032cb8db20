using System.Diagnostics;
using static TorchSharp.torch;

namespace SharpLM.Bench;

static class MatvecExperiment
{
    public static int Run(string[] args)
    {
        foreach (var (o, i) in new[] { (384, 384), (128, 384), (1024, 384), (384, 1024), (8192, 384), (2048, 384), (3072, 768), (768, 3072) })
        {
            using var scope = NewDisposeScope();
            var w = randn(o, i);
            var x2 = randn(1, 1, i);
            var x1 = x2.view(i);
            var wt = w.t().contiguous();
            double T(Func<Tensor> f) { for (int k = 0; k < 20; k++) f().Dispose(); var best = double.MaxValue; for (int r = 0; r < 5; r++) { var c = Stopwatch.StartNew(); for (int k = 0; k < 200; k++) f().Dispose(); best = Math.Min(best, c.Elapsed.TotalMilliseconds * 1000 / 200); } return best; }
            double lin = T(() => nn.functional.linear(x2, w));
            double mv = T(() => w.mv(x1));
            double mmT = T(() => x1.view(1, i).mm(wt));
            double gbs(double us) => o * (double)i * 4 / (us * 1e-6) / 1e9;
            Console.WriteLine($"{o}x{i}: linear {lin:F1} us ({gbs(lin):F1} GB/s)  mv {mv:F1} us ({gbs(mv):F1})  x@Wt(contig) {mmT:F1} us ({gbs(mmT):F1})");
        }
        return 0;
    }
}
