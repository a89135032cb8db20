using System.Buffers.Binary;
using SharpLM.IO;
using TorchSharp.Modules;
using static TorchSharp.torch.utils;

namespace SharpLM.Training;

/// <summary>
/// TensorBoard event files in the run folder (TorchSharp's <c>SummaryWriter</c>): training loss, learning rate,
/// gradient norm and tokens/s every step, validation loss and perplexity, and samples as text, under the names
/// <see cref="MetricsRecord"/> gives them. `tensorboard --logdir runs` then shows each run folder as a run. Each start
/// or resume writes a new event file beside the earlier ones.
/// </summary>
public sealed class TensorBoardLog : ITrainingObserver
{
    /// <summary>How event files' names start.</summary>
    public const string FilePrefix = "events.out.tfevents.";

    readonly SummaryWriter writer;

    /// <param name="resumedFromStep">as for <see cref="MetricsLog"/>: on resume, the earlier event files lose their events
    /// from steps after the checkpoint (a killed run's tail), so that TensorBoard shows one uninterrupted run</param>
    public TensorBoardLog(string runFolder, long resumedFromStep = 0)
    {
        if (resumedFromStep > 0)
            foreach (var file in Directory.GetFiles(runFolder, FilePrefix + "*")) DropEventsAfter(file, resumedFromStep);
        writer = tensorboard.SummaryWriter(runFolder);
    }

    public void OnStep(StepMetrics m) => Scalars("train", m.Step, MetricsRecord.Of(m), "loss", "lr", "grad_norm", "tokens_per_second");

    public void OnEvaluation(EvalMetrics e) => Scalars("valid", e.Step, MetricsRecord.Of(e), "loss", "perplexity");

    public void OnSample(SampleMetrics s) => writer.add_text($"sample/{s.Index + 1}", $"{s.Prompt} -> {s.Text}", Step(s.Step));

    void Scalars(string group, long step, IReadOnlyList<KeyValuePair<string, object>> record, params string[] names)
    {
        foreach (var (name, value) in record.Where(f => names.Contains(f.Key)))
            writer.add_scalar($"{group}/{name}", (float)Convert.ToDouble(value), Step(step));
    }

    /// <summary>Rewrites an event file without the summaries of steps after <paramref name="step"/>. Records are copied
    /// as they are (length, CRCs and all); one cut short by a kill is dropped.</summary>
    static void DropEventsAfter(string path, long step)
    {
        var bytes = File.ReadAllBytes(path);
        var kept = new List<ArraySegment<byte>>();
        bool dropped = false;
        for (int at = 0; at < bytes.Length;)
        {
            long length = at + 12 <= bytes.Length ? BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(at)) : -1;
            if (length < 0 || at + 16 + length > bytes.Length)
            {
                dropped = true;
                break;
            }
            var record = new ArraySegment<byte>(bytes, at, 16 + (int)length);
            if (StepOf(bytes, at + 12, (int)length) > step) dropped = true;
            else kept.Add(record);
            at += record.Count;
        }
        if (dropped) AtomicFile.Write(path, s => kept.ForEach(r => s.Write(r)));
    }

    /// <summary>The step of an event that holds a summary; null for the others (the file version) and unreadable ones.</summary>
    static long? StepOf(byte[] bytes, int offset, int length)
    {
        try
        {
            var e = Tensorboard.Event.Parser.ParseFrom(bytes, offset, length);
            return e.Summary is null ? null : e.Step;
        }
        catch (Google.Protobuf.InvalidProtocolBufferException)
        {
            return null;
        }
    }

    /// <summary>SummaryWriter takes an int step; a run of more steps would be years long on any machine SharpLM trains on.</summary>
    static int Step(long step) => (int)Math.Min(step, int.MaxValue);
}
