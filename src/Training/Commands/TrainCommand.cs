using System.CommandLine;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Training;
using EfficientViT.Reporting;

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
        var checkpoint = WeightsArguments.Option(finetune
            ? "The weights to start from: " + WeightsArguments.Help
            : "Start from these weights instead of random ones (a new head for the data's classes): " + WeightsArguments.Help, required: finetune);
        var imageSize = new Option<int?>("--image-size") { Description = "Input side in pixels, a multiple of 16 (default: 64 for Fashion-MNIST, else 224; fine-tuning keeps the checkpoint's)." };
        var epochs = new Option<int>("--epochs") { Description = "Training epochs (with --time-budget: the most it trains).", DefaultValueFactory = _ => 10 };
        var timeBudget = OptionChecks.TimeBudgetOption("The time training may take, validation and checkpoints included (8m, 90s, 1h30m or seconds): the trainer measures its pace and plans how many steps fit, at most --epochs; the schedule follows the plan.");
        var startImageSize = OptionChecks.StartImageSizeOption();
        var fullSizeEpochs = OptionChecks.FullSizeEpochsOption();
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 128 };
        var lr = new Option<double?>("--lr") { Description = finetune ? $"Peak learning rate of the head (default {TrainingSetupOptions.FineTuningLearningRate}; the backbone gets --backbone-lr-scale of it)." : $"Peak learning rate (default {TrainingSetupOptions.FromScratchLearningRate}: short runs on small data want more than the recipe's 1e-3 x batch/512)." };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--output", "-o") { Description = "Folder for checkpoints, metrics.csv and curves.svg.", DefaultValueFactory = _ => Path.Combine("runs", name) };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --output exactly where it stopped, resizing with the interpolation its checkpoints record (an error if it holds no checkpoint, or if --interpolation names another)." };
        var mixup = new Option<bool>("--mixup") { Description = "Use mixup 0.8 / cutmix 1.0 (the official recipe; helps long runs)." };
        var ema = new Option<bool>("--ema") { Description = "Keep a model EMA and validate it." };
        var dropPath = new Option<double>("--drop-path") { DefaultValueFactory = _ => 0.0 };
        var threads = new Option<int?>("--threads") { Description = "Torch threads (default: training steps on all cores or one, whichever is timed faster; set a count for bit-for-bit repeatable runs)." };
        var workers = new Option<int?>("--workers") { Description = "Data-loading threads." };
        var maxSteps = new Option<long?>("--max-steps") { Description = "Stop after this many steps (quick checks)." };
        var checkpointActivations = new Option<bool>("--checkpoint-activations") { Description = "Recompute each stage's activations in the backward pass: less memory (a larger batch or image fits), about one more forward pass per step." };
        var skipCorrupt = new Option<bool>("--skip-corrupt") { Description = "Skip unreadable images (each reported) instead of failing." };
        var freeze = new Option<bool>("--freeze-backbone") { Description = "Train only the new head." };
        var bnEval = new Option<bool>("--bn-eval") { Description = "Keep BatchNorm statistics fixed while fine-tuning." };
        var distill = new Option<DistillationMode>("--distill") { Description = "Knowledge distillation through the distillation head: None, Soft or Hard (needs --teacher).", DefaultValueFactory = _ => DistillationMode.None };
        var biasResampling = OptionChecks.BiasResamplingOption();
        var interpolation = OptionChecks.InterpolationOption();
        var teacher = new Option<FileInfo?>("--teacher") { Description = "The teacher: a checkpoint (.pth/.safetensors) or an ONNX classifier over the same classes, taking the same normalized images." };
        var backboneLr = new Option<double>("--backbone-lr-scale") { Description = "Backbone learning rate as a fraction of the head's.", DefaultValueFactory = _ => finetune ? 0.1 : 1.0 };

        var command = new Command(name, description) { data, validationData, validationSplit, imageSize, interpolation, startImageSize, fullSizeEpochs, epochs, timeBudget, batch, lr, seed, output, resume, mixup, ema, dropPath, distill, teacher, threads, workers, maxSteps, checkpointActivations, skipCorrupt };
        if (finetune)
        {
            command.Options.Add(checkpoint);
            command.Options.Add(biasResampling);
            command.Options.Add(freeze);
            command.Options.Add(bnEval);
            command.Options.Add(backboneLr);
        }
        else
        {
            command.Options.Add(variant);
            command.Options.Add(checkpoint);
        }

        command.SetAction(parse => CommandErrors.Run(() =>
        {
            // Every number is checked before data is read or libtorch is called.
            var epochCount = OptionChecks.AtLeast(parse, epochs, 1);
            var batchSize = OptionChecks.AtLeast(parse, batch, 1);
            var peakLearningRate = OptionChecks.Positive(parse, lr);
            var split = OptionChecks.InRange(parse, validationSplit, 0, 1);
            var size = OptionChecks.ImageSize(parse, imageSize);
            var (startSize, fullEpochs) = OptionChecks.ImageSizeSchedule(parse, startImageSize, fullSizeEpochs, epochCount);
            var budget = OptionChecks.TimeBudget(parse, timeBudget, startImageSize);
            var dropPathRate = OptionChecks.InRange(parse, dropPath, 0, 1);
            var threadCount = OptionChecks.AtLeast(parse, threads, 1);
            var workerCount = OptionChecks.AtLeast(parse, workers, 1);
            var steps = OptionChecks.AtLeast(parse, maxSteps, 1);
            var backboneScale = finetune ? OptionChecks.InRange(parse, backboneLr, 0, double.PositiveInfinity) : 1.0;
            var distillation = parse.GetValue(distill);
            if (!finetune && parse.GetValue(checkpoint) is not null && parse.GetResult(variant) is { Implicit: false })
                throw new ArgumentException("--variant and --weights: give one; the weights decide the variant.");
            if (distillation != DistillationMode.None && parse.GetValue(teacher) is null)
                throw new ArgumentException("--distill needs --teacher (a checkpoint or an ONNX classifier).");

            // The output folder is checked before the first epoch trains, not when it ends.
            var run = new TrainingRunFolder(parse.GetValue(output)!);
            run.ThrowIfInUse();
            if (parse.GetValue(resume))
                run.RequireCheckpoint();

            // A name is downloaded (or its cached copy checked) before any data is read.
            var weights = parse.GetValue(checkpoint) is { } value ? WeightsArguments.Resolve(value) : null;
            var dataValue = parse.GetValue(data)!;
            var fashion = DataArguments.IsFashionMnist(dataValue);
            var skip = parse.GetValue(skipCorrupt);
            var all = DataArguments.Load(dataValue, FashionMnistSplit.Train, skip);
            var (train, validation) = parse.GetValue(validationData) is { } validationValue
                ? (all, DataArguments.Load(validationValue, FashionMnistSplit.Test, skip))
                : fashion
                    ? (all, FashionMnistDataset.Load(FashionMnistSplit.Test))
                    : TrainingRun.Split(all, split, parse.GetValue(seed));

            using var teacherModel = distillation == DistillationMode.None ? null : OpenTeacher(parse.GetValue(teacher)!, threadCount);
            var setupOptions = (fashion ? TrainingSetupOptions.ForFashionMnist() : new TrainingSetupOptions()) with
            {
                Checkpoint = weights,
                Variant = weights is not null ? EfficientVitVariant.M0 : EfficientVitConfig.ParseVariant(parse.GetValue(variant)!),
                ImageSize = size,
                StartImageSize = startSize,
                FullSizeEpochs = fullEpochs,
                BiasResampling = parse.GetValue(biasResampling),
                Interpolation = parse.GetValue(interpolation),
                ResumedRun = parse.GetValue(resume) ? run.Path : null,
                Epochs = epochCount,
                BatchSize = batchSize,
                LearningRate = peakLearningRate,
                Seed = parse.GetValue(seed),
                Mixup = parse.GetValue(mixup),
                Ema = parse.GetValue(ema),
                DropPath = dropPathRate,
                Distillation = distillation,
                Notes = new Dictionary<string, string> { ["data"] = dataValue, ["command"] = name },
            };
            using var setup = TrainingSetup.Prepare(setupOptions, train);
            var options = new TrainerOptions
            {
                OutputDirectory = run.Path,
                CurvesChart = SvgCharts.TrainingCurves,
                Resume = parse.GetValue(resume),
                Threads = threadCount,
                Workers = workerCount ?? Math.Max(1, Environment.ProcessorCount - 1),
                MaxSteps = steps,
                TimeBudget = budget,
                CheckpointActivations = parse.GetValue(checkpointActivations),
                FreezeBackbone = finetune && parse.GetValue(freeze),
                BatchNormEval = finetune && parse.GetValue(bnEval),
                BackboneLearningRateScale = backboneScale,
                Teacher = teacherModel,
            };
            var result = TrainingRun.Run(setup, options, train, validation);
            if (result.StopReason is not null && !result.Cancelled)
                throw new InvalidOperationException(result.StopReason);
        }));
        return command;
    }

    private static ITeacher OpenTeacher(FileInfo path, int? threads) =>
        path.Extension.Equals(".onnx", StringComparison.OrdinalIgnoreCase)
            ? new OnnxTeacher(path.FullName, threads)
            : new ModelTeacher(path.FullName);
}
