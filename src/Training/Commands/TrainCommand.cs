using System.CommandLine;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Training;

namespace EfficientViT.Training.Commands;

/// <summary><c>efficientvit train</c> (from scratch) and <c>efficientvit finetune</c> (from a checkpoint, new head).</summary>
internal static class TrainCommand
{
    public static Command CreateTrain() => Create("train", "Train EfficientViT from scratch with the official recipe, scaled for small data.", finetune: false);

    public static Command CreateFinetune() => Create("finetune", "Fine-tune an official, timm or own checkpoint on your classes (new head).", finetune: true);

    private static Command Create(string name, string description, bool finetune)
    {
        var data = new Option<string>("--data") { Description = DataArguments.Help, DefaultValueFactory = _ => DataArguments.FashionMnist };
        var validationData = new Option<string?>("--validation-data") { Description = "Separate validation data (same forms as --data); default: a split of --data (Fashion-MNIST: its test set)." };
        var validationSplit = new Option<double>("--validation-split") { Description = "Fraction of --data held out for validation when no --validation-data is given.", DefaultValueFactory = _ => 0.1 };
        var variant = new Option<string>("--variant") { Description = "M0..M5 (train only).", DefaultValueFactory = _ => "M0" };
        var checkpoint = new Option<FileInfo>("--checkpoint") { Description = "The checkpoint to start from (.pth, .safetensors).", Required = finetune };
        var imageSize = new Option<int?>("--image-size") { Description = "Input side in pixels, a multiple of 16 (default: 64 for Fashion-MNIST, else 224; fine-tuning keeps the checkpoint's)." };
        var epochs = new Option<int>("--epochs") { DefaultValueFactory = _ => 10 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 128 };
        var lr = new Option<double?>("--lr") { Description = finetune ? "Peak learning rate of the head (default 5e-4; the backbone gets --backbone-lr-scale of it)." : "Peak learning rate (default 2e-3: short runs on small data want more than the recipe's 1e-3 x batch/512)." };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--output", "-o") { Description = "Folder for checkpoints, metrics.csv and curves.svg.", DefaultValueFactory = _ => Path.Combine("runs", name) };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --output exactly where it stopped." };
        var mixup = new Option<bool>("--mixup") { Description = "Use mixup 0.8 / cutmix 1.0 (the official recipe; helps long runs)." };
        var ema = new Option<bool>("--ema") { Description = "Keep a model EMA and validate it." };
        var dropPath = new Option<double>("--drop-path") { DefaultValueFactory = _ => 0.0 };
        var threads = new Option<int?>("--threads") { Description = "Torch threads (default: all cores)." };
        var workers = new Option<int?>("--workers") { Description = "Data-loading threads." };
        var maxSteps = new Option<long?>("--max-steps") { Description = "Stop after this many steps (quick checks)." };
        var skipCorrupt = new Option<bool>("--skip-corrupt") { Description = "Skip unreadable images (each reported) instead of failing." };
        var freeze = new Option<bool>("--freeze-backbone") { Description = "Train only the new head." };
        var bnEval = new Option<bool>("--bn-eval") { Description = "Keep BatchNorm statistics fixed while fine-tuning." };
        var distill = new Option<DistillationMode>("--distill") { Description = "Knowledge distillation through the distillation head: None, Soft or Hard (needs --teacher).", DefaultValueFactory = _ => DistillationMode.None };
        var teacher = new Option<FileInfo?>("--teacher") { Description = "The teacher: a checkpoint (.pth/.safetensors) or an ONNX classifier over the same classes, taking the same normalized images." };
        var backboneLr = new Option<double>("--backbone-lr-scale") { Description = "Backbone learning rate as a fraction of the head's.", DefaultValueFactory = _ => finetune ? 0.1 : 1.0 };

        var command = new Command(name, description) { data, validationData, validationSplit, imageSize, epochs, batch, lr, seed, output, resume, mixup, ema, dropPath, distill, teacher, threads, workers, maxSteps, skipCorrupt };
        if (finetune)
        {
            command.Options.Add(checkpoint);
            command.Options.Add(freeze);
            command.Options.Add(bnEval);
            command.Options.Add(backboneLr);
        }
        else
        {
            command.Options.Add(variant);
        }

        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var dataValue = parse.GetValue(data)!;
            var skip = parse.GetValue(skipCorrupt);
            var all = DataArguments.Load(dataValue, FashionMnistSplit.Train, skip);
            var (train, validation) = parse.GetValue(validationData) is { } validationValue
                ? (all, DataArguments.Load(validationValue, FashionMnistSplit.Test, skip))
                : DataArguments.IsFashionMnist(dataValue)
                    ? (all, FashionMnistDataset.Load(FashionMnistSplit.Test))
                    : TrainingRun.Split(all, parse.GetValue(validationSplit), parse.GetValue(seed));

            var fashion = DataArguments.IsFashionMnist(dataValue);
            var distillation = parse.GetValue(distill);
            using var teacherModel = distillation == DistillationMode.None ? null : OpenTeacher(parse.GetValue(teacher), parse.GetValue(threads));
            EfficientVit model;
            CheckpointMetadata metadata;
            var size = CheckImageSize(parse.GetValue(imageSize)) ?? 0;
            // The new weights (all of them, or the fine-tuned head) draw from torch's generator: seed it so
            // that the same --seed gives the same run.
            TorchSharp.torch.manual_seed(parse.GetValue(seed));
            if (finetune)
            {
                var loaded = EfficientVitCheckpoint.Load(parse.GetValue(checkpoint)!.FullName,
                    new CheckpointLoadOptions { NumClasses = train.ClassNames.Count, ExcludeHead = true, ImageSize = size > 0 ? size : null });
                (model, metadata) = (loaded.Model, loaded.Metadata);
                if (distillation != DistillationMode.None && model.DistillationHead is null)
                    model.ResetClassifier(model.Config.NumClasses, distillation: true);
            }
            else
            {
                model = EfficientVit.Create(EfficientVitConfig.ParseVariant(parse.GetValue(variant)!), size > 0 ? size : (fashion ? 64 : 224), train.ClassNames.Count,
                    distillation: distillation != DistillationMode.None);
                metadata = CheckpointMetadata.FromConfig(model.Config);
            }
            using (model)
            {
                var (trainTransform, evalTransform) = Transforms(fashion, model.Config.ImageSize, finetune ? metadata : null);
                metadata = metadata.WithPreprocessing(evalTransform.Preprocessing, train.ClassNames) with
                {
                    Training = new() { ["data"] = dataValue, ["command"] = name },
                };
                var recipe = Recipe(parse.GetValue(epochs), parse.GetValue(batch), parse.GetValue(lr) ?? (finetune ? 5e-4 : null), parse.GetValue(seed),
                    parse.GetValue(mixup), parse.GetValue(ema), parse.GetValue(dropPath), (train.Count + parse.GetValue(batch) - 1) / parse.GetValue(batch))
                    with { Distillation = distillation };
                var options = new TrainerOptions
                {
                    OutputDirectory = parse.GetValue(output),
                    Resume = parse.GetValue(resume),
                    Threads = parse.GetValue(threads),
                    Workers = parse.GetValue(workers) ?? Math.Max(1, Environment.ProcessorCount - 1),
                    MaxSteps = parse.GetValue(maxSteps),
                    FreezeBackbone = finetune && parse.GetValue(freeze),
                    BatchNormEval = finetune && parse.GetValue(bnEval),
                    BackboneLearningRateScale = finetune ? parse.GetValue(backboneLr) : 1.0,
                    ClassNames = train.ClassNames,
                    Teacher = teacherModel,
                };
                var result = TrainingRun.Run(model, recipe, options, metadata, train, validation, trainTransform, evalTransform);
                if (result.StopReason is not null && !result.StopReason.StartsWith("cancelled", StringComparison.Ordinal))
                    throw new InvalidOperationException(result.StopReason);
            }
        }));
        return command;
    }

    private static ITeacher OpenTeacher(FileInfo? path, int? threads)
    {
        if (path is null)
            throw new ArgumentException("--distill needs --teacher (a checkpoint or an ONNX classifier).");
        return path.Extension.Equals(".onnx", StringComparison.OrdinalIgnoreCase)
            ? new OnnxTeacher(path.FullName, threads)
            : new ModelTeacher(path.FullName);
    }

    /// <summary>An --image-size value, checked: a positive multiple of 16 (the patch embedding's stride), or null for the default.</summary>
    public static int? CheckImageSize(int? size) =>
        size is null || (size > 0 && size % 16 == 0)
            ? size
            : throw new ArgumentException($"--image-size must be a positive multiple of 16; found {size}.");

    /// <summary>The transforms for the data: Fashion-MNIST's statistics, the fine-tuned checkpoint's, or ImageNet's.</summary>
    public static (ImageTransform Train, ImageTransform Eval) Transforms(bool fashion, int size, CheckpointMetadata? checkpoint)
    {
        if (fashion)
            return (ImageTransform.FashionMnist(size, train: true), ImageTransform.FashionMnist(size, train: false));
        if (checkpoint is not null)
        {
            // Colour data: the checkpoint's statistics and crop, without a grayscale conversion the data does not need.
            var preprocessing = checkpoint.Preprocessing with { ImageSize = size, Grayscale = false };
            return (new ImageTransform(preprocessing, train: true), new ImageTransform(preprocessing, train: false));
        }
        return (ImageTransform.ImageNet(size, train: true), ImageTransform.ImageNet(size, train: false));
    }

    /// <summary>The official recipe scaled for small data and short runs; mixup and EMA on request.</summary>
    public static TrainingRecipe Recipe(int epochs, int batchSize, double? peakLearningRate, int seed, bool mixup, bool ema, double dropPath, long stepsPerEpoch)
    {
        // 2e-3 works for short runs with batches of 64-256.
        var recipe = TrainingRecipe.ForSmallData(epochs, batchSize, stepsPerEpoch).WithPeakLearningRate(peakLearningRate ?? 2e-3)
            with { Seed = seed, DropPath = dropPath };
        if (!mixup)
            recipe = recipe with { MixupAlpha = 0, CutmixAlpha = 0 };
        if (!ema)
            recipe = recipe with { EmaDecay = null };
        return recipe;
    }
}
