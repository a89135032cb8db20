using ScottPlot;
using SharpLM.Reporting;

namespace SharpLM.Cli.Reporting;

/// <summary>The report's curves, one line per run in the same colour on every chart, drawn with ScottPlot.</summary>
static class ReportCharts
{
    const int Width = 900, Height = 480;

    /// <summary>A sans-serif font this machine has (ScottPlot's own guess can land on a serif one), else ScottPlot's.</summary>
    static readonly Lazy<string> Font = new(() =>
    {
        var installed = SkiaSharp.SKFontManager.Default.GetFontFamilies().ToHashSet();
        return new[] { "DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica" }.FirstOrDefault(installed.Contains) ?? Fonts.Sans;
    });

    public static List<ReportChart> Draw(IReadOnlyList<ReportedRun> runs, double smoothing)
    {
        var charts = new List<ReportChart>();
        Add(charts, "Training loss", "training-loss.png", "loss", runs, (plot, run, color) =>
        {
            var points = run.History.Train;
            if (points.Count == 0) return false;
            double[] steps = [.. points.Select(p => (double)p.Step)], losses = [.. points.Select(p => p.Loss)];
            if (smoothing > 0)
            {
                var raw = plot.Add.ScatterLine(steps, losses, color.WithAlpha(0.25)); // faint, unlabelled: the noise behind the trend
                raw.LineWidth = 1;
                Line(plot, steps, ExponentialSmoothing.Smooth(losses, smoothing), color, $"{run.Name} (smoothed {smoothing:G2})");
            }
            else Line(plot, steps, losses, color, run.Name);
            return true;
        });
        Add(charts, "Validation loss", "validation-loss.png", "loss", runs, (plot, run, color) =>
        {
            var points = run.History.Valid;
            if (points.Count == 0) return false;
            Line(plot, [.. points.Select(p => (double)p.Step)], [.. points.Select(p => p.Loss)], color, run.Name).MarkerSize = 6;
            return true;
        });
        Add(charts, "Learning rate", "learning-rate.png", "learning rate", runs,
            (plot, run, color) => Optional(plot, run, color, p => p.LearningRate));
        Add(charts, "Gradient norm", "gradient-norm.png", "gradient norm (before clipping)", runs,
            (plot, run, color) => Optional(plot, run, color, p => p.GradNorm));
        return charts;
    }

    /// <summary>A chart drawn only when some run has its values.</summary>
    static void Add(List<ReportChart> charts, string title, string fileName, string yLabel, IReadOnlyList<ReportedRun> runs,
        Func<Plot, ReportedRun, Color, bool> drawRun)
    {
        using var plot = new Plot();
        plot.Font.Set(Font.Value);
        var palette = new ScottPlot.Palettes.Category10();
        bool any = false;
        for (int i = 0; i < runs.Count; i++) any |= drawRun(plot, runs[i], palette.GetColor(i));
        if (!any) return;
        plot.Title(title);
        plot.XLabel("step");
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true }; // no step 1.5
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.UpperRight);
        charts.Add(new ReportChart(title, fileName, plot.GetImageBytes(Width, Height, ImageFormat.Png)));
    }

    static ScottPlot.Plottables.Scatter Line(Plot plot, double[] steps, double[] values, Color color, string legend)
    {
        var line = plot.Add.ScatterLine(steps, values, color);
        line.LineWidth = 2;
        line.LegendText = legend;
        return line;
    }

    static bool Optional(Plot plot, ReportedRun run, Color color, Func<TrainPoint, double?> value)
    {
        var points = run.History.Train.Where(p => value(p) is not null).ToList();
        if (points.Count == 0) return false;
        Line(plot, [.. points.Select(p => (double)p.Step)], [.. points.Select(p => value(p)!.Value)], color, run.Name);
        return true;
    }
}
