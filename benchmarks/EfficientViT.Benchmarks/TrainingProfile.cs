using EfficientViT.ML.Acceleration;
using System.Diagnostics;
using System.Globalization;
using EfficientViT.ML.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.Benchmarks;

/// <summary>
/// Where a training step's time goes, part by part: M0 at --training-size, batch 128, cross-entropy, the forward
/// and backward pass of each layer of the patch embedding and of each residual layer and patch merging of the
/// stages, at each --threads count. Forward parts are timed around their calls; backward parts between
/// <see cref="BackwardClock"/> marks on their inputs. The optimizer and the gradient clipping are left out
/// (--training times them). Timing each part adds a mark per part; the step is slower by that little.
/// </summary>
internal static class TrainingProfile
{
    private const int Batch = 128, Classes = 10, WarmupSteps = 2, MinimumSteps = 3;

    private static readonly string[] BlockLayerKinds = ["depthwise residual", "feed-forward residual", "attention residual", "depthwise residual", "feed-forward residual"];

    private sealed record Part(string Name, string Kind, nn.Module<Tensor, Tensor> Module);

    // Each thread count's share of the run: twice --seconds, as --training gives each of its rounds.
    private static TimeSpan MinimumDuration(BenchmarkOptions options) => TimeSpan.FromSeconds(options.Seconds * 2);

    /// <summary>The input and the timing rule, for the report's header.</summary>
    public static (string Input, string Timing) Describe(BenchmarkOptions options) =>
        ($"{options.TrainingImageSize}x{options.TrainingImageSize} RGB, one fixed random batch of {Batch}",
         $"each thread count ≥ {MinimumDuration(options).TotalSeconds.ToString(CultureInfo.InvariantCulture)} s and ≥ {MinimumSteps} steps after {WarmupSteps} warm-up steps; milliseconds per step");

    public static void Run(BenchmarkOptions options, TextWriter output)
    {
        var side = options.TrainingImageSize;
        manual_seed(0);
        using var model = EfficientVit.Create(EfficientVitVariant.M0, side, Classes);
        // As the trainer trains (with TrainerOptions.KeepFreedNativeMemory's default).
        using var acceleration = new TrainingAcceleration(model, channelsLast: true, keepFreedNativeMemory: true);
        using var images = acceleration.Input(randn(Batch, 3, side, side));
        using var labels = randint(0, Classes, [Batch]);
        var parts = Parts(model);
        CheckPartsComposeTheModel(model, parts, images);
        model.train();

        // Columns: one forward and one backward per thread count; rows: the parts, then the head and loss.
        var times = options.Threads.Select(_ => (Forward: new double[parts.Count + 1], Backward: new double[parts.Count + 1])).ToArray();
        for (var t = 0; t < options.Threads.Count; t++)
        {
            set_num_threads(options.Threads[t]);
            var steps = Measure(model, parts, images, labels, MinimumDuration(options), times[t].Forward, times[t].Backward);
            Console.Error.WriteLine($"  profile, {options.Threads[t]} thread(s): {steps} steps");
        }

        var headers = new List<string> { "part", "kind" };
        foreach (var threads in options.Threads)
            headers.AddRange([$"forward ms ({threads}t)", $"backward ms ({threads}t)"]);
        var table = new TextTable([.. headers]);
        var names = parts.Select(p => (p.Name, p.Kind)).Append((Name: "head", Kind: "head and loss")).ToList();
        for (var i = 0; i < names.Count; i++)
            table.AddRow([names[i].Name, names[i].Kind, .. times.SelectMany(c => new[] { Ms(c.Forward[i]), Ms(c.Backward[i]) })]);
        output.WriteLine($"### Training step by part: EfficientViT-M0, {side}x{side}, batch {Batch}, forward and backward (no optimizer)");
        output.WriteLine();
        output.WriteLine(table.Render(options.Markdown));

        var kinds = names.Select(n => n.Kind).Distinct().ToList();
        var summaryHeaders = new List<string> { "kind", "parts" };
        foreach (var threads in options.Threads)
            summaryHeaders.AddRange([$"ms ({threads}t)", $"share ({threads}t)"]);
        var summary = new TextTable([.. summaryHeaders]);
        foreach (var kind in kinds.OrderByDescending(k => Total(times[^1], names, k)))
        {
            var cells = new List<string> { kind, names.Count(n => n.Kind == kind).ToString(CultureInfo.InvariantCulture) };
            foreach (var column in times)
            {
                var ms = Total(column, names, kind);
                var all = column.Forward.Sum() + column.Backward.Sum();
                cells.AddRange([ms.ToString("F1", CultureInfo.InvariantCulture), (ms / all).ToString("P0", CultureInfo.InvariantCulture)]);
            }
            summary.AddRow([.. cells]);
        }
        output.WriteLine($"### The same by kind (forward + backward)");
        output.WriteLine();
        output.WriteLine(summary.Render(options.Markdown));
    }

    private static double Total((double[] Forward, double[] Backward) column, List<(string Name, string Kind)> names, string kind) =>
        Enumerable.Range(0, names.Count).Where(i => names[i].Kind == kind).Sum(i => column.Forward[i] + column.Backward[i]);

    private static string Ms(double value) => value.ToString("F2", CultureInfo.InvariantCulture);

    // The model's forward pass as a list of parts in order: the patch embedding's layers, then each stage's
    // down-sampling layers and blocks, blocks split into their five residual layers.
    private static List<Part> Parts(EfficientVit model)
    {
        var parts = model.PatchEmbedding.Select((m, i) => new Part($"patch_embed.{i}", "patch embedding", m)).ToList();
        var stages = model.Stages;
        for (var s = 0; s < stages.Count; s++)
        {
            for (var j = 0; j < stages[s].Count; j++)
            {
                var name = $"blocks{s + 1}.{j}";
                switch (stages[s][j])
                {
                    case EfficientVitBlock block:
                        parts.AddRange(block.Layers.Select((layer, k) => new Part($"{name}.{k}", BlockLayerKinds[k], layer)));
                        break;
                    case Sequential sequence:
                        parts.AddRange(sequence.children().Cast<nn.Module<Tensor, Tensor>>().Select((layer, k) => new Part($"{name}.{k}", KindOf(layer), layer)));
                        break;
                    case var layer:
                        parts.Add(new Part(name, KindOf(layer), layer));
                        break;
                }
            }
        }
        return parts;
    }

    private static string KindOf(nn.Module<Tensor, Tensor> layer) => layer switch
    {
        PatchMerging => "patch merging",
        Residual { Branch: Conv2dBN } => "depthwise residual",
        Residual { Branch: FeedForward } => "feed-forward residual",
        _ => layer.GetType().Name,
    };

    // The parts, called one after another, must be the model: otherwise the profile times something else.
    private static void CheckPartsComposeTheModel(EfficientVit model, List<Part> parts, Tensor images)
    {
        model.eval();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var expected = model.forward(images);
        var actual = Head(model, parts.Aggregate(images, (h, part) => part.Module.call(h)));
        if (!actual.equal(expected).all().item<bool>())
            throw new InvalidOperationException($"The profile's parts do not compose EfficientViT-M0's forward pass (largest difference {(actual - expected).abs().max().item<float>()}).");
    }

    // The parts end inside the last stage, whose output the fast layers mark for the pooling's gradient.
    private static Tensor Head(EfficientVit model, Tensor features) =>
        model.Head!.call(EfficientVit.Pool(ChannelsLastGradient.MarkChannelsLast(features)));

    private static int Measure(EfficientVit model, List<Part> parts, Tensor images, Tensor labels, TimeSpan minimumDuration, double[] forward, double[] backward)
    {
        var steps = 0;
        var clock = Stopwatch.StartNew();
        for (var step = 0; step < WarmupSteps || steps < MinimumSteps || clock.Elapsed < minimumDuration; step++)
        {
            if (step == WarmupSteps)
            {
                Array.Clear(forward);
                Array.Clear(backward);
                clock.Restart();
            }
            Step(model, parts, images, labels, forward, backward);
            if (step >= WarmupSteps)
                steps++;
        }
        for (var i = 0; i < forward.Length; i++)
        {
            forward[i] /= steps;
            backward[i] /= steps;
        }
        return steps;
    }

    private static void Step(EfficientVit model, List<Part> parts, Tensor images, Tensor labels, double[] forward, double[] backward)
    {
        using var scope = NewDisposeScope();
        BackwardClock.Reset(parts.Count + 1);
        var h = images;
        for (var i = 0; i < parts.Count; i++)
        {
            // The images need no gradient, so no mark fires on the first part's input: its backward ends with the pass.
            h = BackwardClock.Mark(h, i);
            var start = Stopwatch.GetTimestamp();
            h = parts[i].Module.call(h);
            forward[i] += Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        h = BackwardClock.Mark(h, parts.Count);
        var headStart = Stopwatch.GetTimestamp();
        var loss = nn.functional.cross_entropy(Head(model, h), labels);
        forward[parts.Count] += Stopwatch.GetElapsedTime(headStart).TotalMilliseconds;

        model.zero_grad();
        var backwardStart = Stopwatch.GetTimestamp();
        loss.backward();
        var backwardEnd = Stopwatch.GetTimestamp();
        // Part i's backward ran from the mark on part i+1's input (the head's mark for the last part) to the mark on its own.
        for (var i = parts.Count; i >= 0; i--)
        {
            var begin = i == parts.Count ? backwardStart : BackwardClock.Stamp(i + 1);
            var end = i == 0 ? backwardEnd : BackwardClock.Stamp(i);
            backward[i] += Stopwatch.GetElapsedTime(begin, end).TotalMilliseconds;
        }
    }
}
