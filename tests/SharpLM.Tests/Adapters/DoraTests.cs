using System.CommandLine;
using System.Text.Json.Nodes;
using SharpLM.Adapters;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Formats;
using SharpLM.Hub;
using SharpLM.Model;
using SharpLM.Tests.Cli;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Adapters;

/// <summary>DoRA (weight-decomposed LoRA): y = b + m / |W + s B A| * (W + s B A) x, row by row, as PEFT computes it.</summary>
[Collection(CliCollection.Name)]
public sealed class DoraTests : IDisposable
{
    static readonly LoraOptions Dora = new() { Rank = 4, Alpha = 8, UseDora = true };
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    /// <summary>Moves every adapter away from its start (B = 0, m = |W|), as training would.</summary>
    static void Perturb(LlamaForCausalLM model, long seed)
    {
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var (_, _, adapter) in Lora.Adapters(model))
        {
            adapter.B.weight.normal_(0, 0.05, generator);
            adapter.Magnitude!.weight.mul_(rand(adapter.Magnitude.weight.shape, generator: generator) + 0.5);
        }
    }

    [Fact]
    public void AtStepZeroTheModelIsTheBaseAndOnlyAdaptersAndMagnitudesTrain()
    {
        using var model = TestModels.Tiny();
        using var ids = TestModels.RandomIds(2, 9, 64);
        using var before = model.forward(ids);
        var trainable = Lora.Apply(model, Dora, seed: 1);
        Assert.Equal(2 * 7 * 3, trainable.Count); // 2 layers x 7 projections x (A, B, magnitude)
        Assert.Equal(14, trainable.Count(t => t.Name.EndsWith(".lora_magnitude_vector.weight")));
        model.eval();
        using var after = model.forward(ids);
        Assert.True(after.allclose(before, rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void AProjectionComputesDorasFormulaAndItsMagnitudeGetsItsGradient()
    {
        using var model = TestModels.Tiny();
        Lora.Apply(model, Dora, seed: 1);
        Perturb(model, 2);
        var (_, projection, adapter) = Lora.Adapters(model).First(a => a.Name.EndsWith("gate_proj"));
        using var x = randn(3, projection.InFeatures, generator: new Generator(5));
        var y = projection.forward(x);

        // Independently: the dense direction W + s B A, each row scaled to m / its norm.
        var w = projection.weight.detach().to(float64);
        var direction = w + adapter.B.weight.detach().to(float64).matmul(adapter.A.weight.detach().to(float64)) * Dora.Scaling;
        var m = adapter.Magnitude!.weight.detach().to(float64);
        var expected = x.to(float64).matmul((direction * (m / direction.square().sum(1).sqrt()).unsqueeze(1)).t());
        var error = (y.detach().to(float64) - expected).abs().max().item<double>();
        Assert.True(error < 1e-6, $"largest difference {error}");

        // The norm is a constant to the gradient (DoRA, section 4.3): d sum(y) / d m = sum over rows of (direction x) / |direction|.
        y.sum().backward();
        // sum(0L): a plain 0 would pick TorchSharp's sum(ScalarType) overload.
        var expectedGradient = x.to(float64).matmul(direction.t()).sum(0L) / direction.square().sum(1).sqrt();
        var gradientError = (adapter.Magnitude.weight.grad!.to(float64) - expectedGradient).abs().max().item<double>();
        Assert.True(gradientError < 1e-5, $"largest gradient difference {gradientError}");
    }

    [Fact]
    public void MergeEqualsTheAdaptedModelAndTheAdapterRoundTripsInPeftsLayout()
    {
        using var model = TestModels.Tiny();
        Lora.Apply(model, Dora, seed: 1);
        Perturb(model, 3);
        model.eval();
        using var ids = TestModels.RandomIds(2, 9, 64);
        using var adapted = model.forward(ids).detach();

        var folder = dir.File("adapter");
        AdapterFolder.Save(folder, model, Dora, baseModelPath: null);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, AdapterFolder.ConfigFile)))!;
        Assert.True((bool)config["use_dora"]!);
        using (var file = SafetensorsFile.Open(Path.Combine(folder, AdapterFolder.WeightsFile)))
        {
            var magnitude = file.GetEntry("base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector");
            Assert.Equal([model.Config.NumAttentionHeads * model.Config.HeadDim], magnitude.Shape);
        }

        using var fresh = TestModels.Tiny();
        Assert.True(AdapterFolder.Load(folder, fresh).UseDora);
        fresh.eval();
        using (var loaded = fresh.forward(ids)) Assert.True(loaded.allclose(adapted, rtol: 0, atol: 1e-6));

        Lora.Merge(model);
        Assert.Empty(Lora.Adapters(model));
        using var merged = model.forward(ids);
        Assert.True(merged.allclose(adapted, rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void FinetuneWithMethodDoraSavesAnAdapterThatMergesAndExports()
    {
        var model = TestModels.TinyFolder(dir.File("base"), seed: 4);
        var data = dir.Write("text.jsonl", string.Join("\n", Enumerable.Range(0, 16).Select(i =>
            new JsonObject { ["text"] = $"the old house by the river number {i}" }.ToJsonString())));
        var root = new RootCommand { FinetuneCommand.Create(), MergeCommand.Create(), ExportCommand.Create() };
        (int Exit, string Out, string Err) Run(params string[] args) => ConsoleCapture.Run(() => CommandRunner.Invoke(root, args));

        var (exit, _, err) = Run("finetune", "--model", model, "--data", data, "--method", "dora", "--output", dir.File("run"),
            "--max-steps", "3", "--batch-size", "4", "--max-length", "64", "--exact-match", "0", "--precision", "Fp32");
        Assert.True(exit == 0, err);
        Assert.Contains("DoRA r=8", err);
        var adapter = Path.Combine(dir.File("run"), "final");
        Assert.True(AdapterFolder.ReadConfig(adapter).Options.UseDora);
        using var loaded = PretrainedModel.Load(adapter);
        var prompt = loaded.EncodePrompt("the old house");
        var adapted = TestModels.LastLogits(loaded.Model, prompt);
        using (var baseModel = PretrainedModel.Load(model))
            Assert.True(TestModels.LastLogits(baseModel.Model, prompt).Zip(adapted).Max(p => Math.Abs(p.First - p.Second)) > 1e-4,
                "three steps should have moved the adapter");

        (exit, _, err) = Run("merge", "--model", adapter, "--output", dir.File("merged"));
        Assert.True(exit == 0, err);
        using (var merged = PretrainedModel.Load(dir.File("merged")))
            Assert.True(TestModels.LastLogits(merged.Model, prompt).Zip(adapted).Max(p => Math.Abs(p.First - p.Second)) < 1e-4);
        (exit, _, err) = Run("export", "--format", "gguf", "--model", dir.File("merged"), "--output", dir.File("merged.gguf"));
        Assert.True(exit == 0, err);
    }
}
