using System.Diagnostics;
using EfficientViT.Benchmarks;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using EfficientViT.ML.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

// accuracy --checkpoint M0_64.safetensors [--sizes 64,80,96,112] [--finetune-epochs 1] [--finetune-images 60000] [--threads 1]
//   Fashion-MNIST test top-1 of a checkpoint loaded at each size with its bias tables interpolated and
//   extended, before and after fine-tuning all weights at that size.
// speed [--variants M0,M4] [--sizes 160,224,288,384] [--batch 16] [--threads 2] [--seconds 3] [--rounds 3]
//   ONNX Runtime images/s of the exported (BN-fused) graph at each size, the sizes interleaved round by round.
var arguments = args.ToList();
string Option(string name, string fallback)
{
    var index = arguments.IndexOf(name);
    return index >= 0 && index + 1 < arguments.Count ? arguments[index + 1] : fallback;
}
int[] Ints(string name, string fallback) => Option(name, fallback).Split(',').Select(int.Parse).ToArray();

foreach (var (name, value) in MachineInfo.Collect())
    Console.WriteLine($"{name}: {value}");
switch (arguments.FirstOrDefault())
{
    case "accuracy":
        Accuracy(Option("--checkpoint", "") is { Length: > 0 } path ? path : throw new ArgumentException("accuracy needs --checkpoint"),
            Ints("--sizes", "64,80,96,112"), int.Parse(Option("--finetune-epochs", "1")), int.Parse(Option("--finetune-images", "60000")), int.Parse(Option("--threads", "1")));
        return 0;
    case "speed":
        Speed(Option("--variants", "M0,M4").Split(',').Select(EfficientVitConfig.ParseVariant).ToArray(), Ints("--sizes", "160,224,288,384"),
            int.Parse(Option("--batch", "16")), int.Parse(Option("--threads", "2")), double.Parse(Option("--seconds", "3")), int.Parse(Option("--rounds", "3")));
        return 0;
    default:
        Console.Error.WriteLine("usage: accuracy --checkpoint FILE [--sizes 64,80,96,112] [--finetune-epochs 1] | speed [--variants M0,M4] [--sizes 160,224,288,384] [--batch 16] [--threads 2] [--seconds 3] [--rounds 3]");
        return 2;
}

static void Accuracy(string checkpoint, int[] sizes, int finetuneEpochs, int finetuneImages, int threads)
{
    TorchSharp.torch.set_num_threads(threads);
    var all = FashionMnistDataset.Load(FashionMnistSplit.Train);
    // A stratified subset keeps the fine-tuning short when asked; the whole training set by default.
    var train = finetuneImages >= all.Count ? all : DatasetSplit.Take(all, finetuneImages / all.ClassNames.Count, seed: 0);
    var test = FashionMnistDataset.Load(FashionMnistSplit.Test);
    Console.WriteLine($"checkpoint {checkpoint}; Fashion-MNIST test top-1 (10,000 images); fine-tuning: {finetuneEpochs} epoch(s) over {train.Count:N0} training images of all weights at the new size, peak lr 5e-4, {threads} torch thread(s)");
    Console.WriteLine("| size | tables | evaluated as loaded | after fine-tuning | fine-tuning time |");
    Console.WriteLine("|---|---|---|---|---|");
    foreach (var size in sizes)
    {
        foreach (var mode in new[] { AttentionBiasResampling.Interpolate, AttentionBiasResampling.Extend })
        {
            using var loaded = EfficientVitCheckpoint.Load(checkpoint, new CheckpointLoadOptions { ImageSize = size, BiasResampling = mode });
            var windows = Enumerable.Range(0, EfficientVitConfig.StageCount).Select(loaded.Model.Config.AttentionWindow).ToArray();
            var trained = loaded.Model.Config with { ImageSize = loaded.Metadata.TrainedImageSize ?? size };
            var resampled = !Enumerable.Range(0, EfficientVitConfig.StageCount).Select(trained.AttentionWindow).SequenceEqual(windows);
            if (!resampled && mode == AttentionBiasResampling.Extend)
                continue;
            var evalTransform = new ImageTransform(loaded.Metadata.Preprocessing, train: false);
            var before = Evaluator.Evaluate(loaded.Model, test, evalTransform, 256).Metrics.Top1Accuracy;
            var clock = Stopwatch.StartNew();
            var recipe = TrainingRecipe.ForSmallData(finetuneEpochs, 128, train.Count / 128).WithPeakLearningRate(5e-4)
                with { MixupAlpha = 0, CutmixAlpha = 0, EmaDecay = null };
            var trainer = new EfficientVitTrainer(loaded.Model, recipe, new TrainerOptions { Threads = threads }, loaded.Metadata);
            trainer.Train(train, null, ImageTransform.FashionMnist(size, train: true), evalTransform);
            var after = Evaluator.Evaluate(loaded.Model, test, evalTransform, 256).Metrics.Top1Accuracy;
            Console.WriteLine($"| {size} | {string.Join(", ", windows)}{(resampled ? (mode == AttentionBiasResampling.Interpolate ? " (interpolated)" : " (extended)") : " (as trained)")} | {before:P2} | {after:P2} | {clock.Elapsed.TotalSeconds:F0} s |");
        }
    }
}

static void Speed(EfficientVitVariant[] variants, int[] sizes, int batch, int threads, double seconds, int rounds)
{
    Console.WriteLine($"ONNX Runtime {typeof(InferenceSession).Assembly.GetName().Version}, exported graph (BN fused), batch {batch}, one session of {threads} threads, {rounds} interleaved rounds of {seconds} s; median img/s");
    Console.WriteLine($"| variant | {string.Join(" | ", sizes)} |");
    Console.WriteLine($"|---|{string.Concat(sizes.Select(_ => "---|"))}");
    var random = new Random(0);
    foreach (var variant in variants)
    {
        var sessions = sizes.Select(size =>
        {
            TorchSharp.torch.manual_seed(0);
            using var model = EfficientVit.Create(variant, size, numClasses: 0);
            using var options = new SessionOptions { IntraOpNumThreads = threads, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            var input = new DenseTensor<float>(Enumerable.Range(0, batch * 3 * size * size).Select(_ => (float)random.NextDouble()).ToArray(), [batch, 3, size, size]);
            return (Session: new InferenceSession(EfficientVitOnnxExporter.ToBytes(model), options), Input: input);
        }).ToArray();
        var rates = sizes.Select(_ => new List<double>()).ToArray();
        for (var round = 0; round < rounds; round++)
        {
            for (var i = 0; i < sessions.Length; i++)
            {
                var inputs = new[] { NamedOnnxValue.CreateFromTensor(EfficientVitOnnxExporter.DefaultInputName, sessions[i].Input) };
                using (sessions[i].Session.Run(inputs)) { }
                var (images, clock) = (0, Stopwatch.StartNew());
                while (clock.Elapsed.TotalSeconds < seconds)
                {
                    using var _ = sessions[i].Session.Run(inputs);
                    images += batch;
                }
                rates[i].Add(images / clock.Elapsed.TotalSeconds);
            }
        }
        Console.WriteLine($"| {variant} | {string.Join(" | ", rates.Select(r => $"{r.Order().ElementAt(r.Count / 2):F0}"))} |");
        foreach (var (session, _) in sessions)
            session.Dispose();
    }
}
