using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Checkpoints.Pretrained;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Preprocessing;

namespace EfficientViT.ML.Training;

/// <summary>
/// Everything a training run starts from, made in one place for the command line, the ML.NET trainer and
/// code: the model (a new variant, or a checkpoint with a new head for the data's classes), the metadata
/// its checkpoints record (classes and preprocessing), the training and evaluation transforms, and the
/// recipe (the official one scaled for small data, see <see cref="TrainingRecipe.ForSmallData"/>).
/// </summary>
/// <example>
/// <code>
/// var train = ImageFolderDataset.Load("data/train");
/// using var setup = TrainingSetup.Prepare(new TrainingSetupOptions { Checkpoint = "efficientvit_m0.pth", Epochs = 5 }, train);
/// var trainer = new EfficientVitTrainer(setup.Model, setup.Recipe, new TrainerOptions { OutputDirectory = "runs/pets" }, setup.Metadata);
/// trainer.Train(train, validation: null, setup.TrainTransform, setup.EvalTransform);
/// </code>
/// </example>
public sealed class TrainingSetup : IDisposable
{
    private TrainingSetup(EfficientVit model, CheckpointMetadata metadata, ImageTransform trainTransform, ImageTransform evalTransform, TrainingRecipe recipe)
    {
        Model = model;
        Metadata = metadata;
        TrainTransform = trainTransform;
        EvalTransform = evalTransform;
        Recipe = recipe;
    }

    /// <summary>The network to train; disposed with the setup.</summary>
    public EfficientVit Model { get; }

    /// <summary>What the run's checkpoints record: the architecture, the data's class names and the preprocessing.</summary>
    public CheckpointMetadata Metadata { get; }

    /// <summary>The augmenting transform of the training images.</summary>
    public ImageTransform TrainTransform { get; }

    /// <summary>The resize and centre crop of validation and inference.</summary>
    public ImageTransform EvalTransform { get; }

    /// <summary>The hyper-parameters of the run.</summary>
    public TrainingRecipe Recipe { get; }

    /// <summary>Prepares a run on <paramref name="train"/> (its class names and size decide the head and the steps per epoch).</summary>
    /// <exception cref="ArgumentException">An option is out of range, or <see cref="TrainingSetupOptions.Interpolation"/> differs from the resumed run's.</exception>
    /// <exception cref="CheckpointException">The checkpoint (or the resumed run's record) cannot be loaded.</exception>
    /// <exception cref="InvalidOperationException"><see cref="TrainingSetupOptions.ResumedRun"/> holds no checkpoint.</exception>
    public static TrainingSetup Prepare(TrainingSetupOptions options, IImageDataset train)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(train);
        options.Validate();
        // Read before any weights are loaded, so that a conflicting option is refused at once.
        var resumed = options.ResumedRun is { } folder ? new TrainingRunFolder(folder) : null;
        var resumedInterpolation = resumed?.RecordedInterpolation();
        if (resumed is not null && options.Interpolation is { } asked && asked != resumedInterpolation)
            throw new ArgumentException($"{resumed.Path}: the run's last checkpoint, {resumed.LastModelPath}, was trained resizing with {TrainingRunFolder.Describe(resumedInterpolation)}; " +
                $"Interpolation (--interpolation) asks for {TrainingRunFolder.Describe(asked)}. A resumed run keeps its own: resume without it, or start a new run.");
        var classes = train.ClassNames.Count;
        var distillation = options.Distillation != DistillationMode.None;

        // The new weights (all of them, or the head of a loaded network) draw from torch's generator: seeding
        // it makes the same seed give the same run.
        TorchSharp.torch.manual_seed(options.Seed);
        EfficientVit model;
        CheckpointMetadata metadata;
        ImagePreprocessing preprocessing;
        if (options.Checkpoint is { } path)
        {
            var loaded = EfficientVitCheckpoint.Load(EfficientVitPretrained.Resolve(path), new CheckpointLoadOptions { NumClasses = classes, ExcludeHead = true, ImageSize = options.ImageSize, BiasResampling = options.BiasResampling });
            (model, metadata) = (loaded.Model, loaded.Metadata);
            if (distillation && model.DistillationHead is null)
                model.ResetClassifier(model.Config.NumClasses, distillation: true);
            preprocessing = options.Preprocessing ?? metadata.Preprocessing with { Grayscale = false };
        }
        else
        {
            model = EfficientVit.Create(options.Variant, options.ImageSize ?? options.Preprocessing?.ImageSize ?? 224, classes, distillation: distillation);
            metadata = CheckpointMetadata.FromConfig(model.Config);
            preprocessing = options.Preprocessing ?? ImagePreprocessing.ImageNet();
        }

        try
        {
            var recipe = ScaledRecipe(options, train.Count);
            recipe.CheckImageSizesFor(model.Config.ImageSize);
            preprocessing = preprocessing.WithImageSize(model.Config.ImageSize);
            // A resumed run trains and validates as it did before it stopped, whatever the default is now. A run of an
            // earlier version (null) stays one: its checkpoints go on recording no interpolation, rather than an explicit
            // Bilinear, because that is PIL's antialiased filter — another transform than the unantialiased bilinear the
            // run was trained with — and because its best and last checkpoints then read alike, whichever was written
            // after the resume, and are served as the earlier checkpoints of the run were.
            if (resumed is not null)
                preprocessing = preprocessing with { Interpolation = resumedInterpolation };
            else if (options.Interpolation is { } interpolation)
                preprocessing = preprocessing with { Interpolation = interpolation };
            var trainTransform = options.TrainTransform?.Invoke(preprocessing) ?? new ImageTransform(preprocessing, train: true);
            var evalTransform = new ImageTransform(preprocessing, train: false);
            metadata = metadata.WithPreprocessing(preprocessing, train.ClassNames) with
            {
                Training = options.Notes is null ? metadata.Training : new Dictionary<string, string>(options.Notes),
            };
            return new TrainingSetup(model, metadata, trainTransform, evalTransform, recipe);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static TrainingRecipe ScaledRecipe(TrainingSetupOptions options, int trainingImages)
    {
        // As the trainer's loader counts them: a last batch smaller than the others is left out.
        var stepsPerEpoch = Math.Max(1, trainingImages / options.BatchSize);
        var peak = options.LearningRate ?? (options.Checkpoint is null ? TrainingSetupOptions.FromScratchLearningRate : TrainingSetupOptions.FineTuningLearningRate);
        var recipe = TrainingRecipe.ForSmallData(options.Epochs, options.BatchSize, stepsPerEpoch).WithPeakLearningRate(peak)
            with
            {
                Seed = options.Seed,
                DropPath = options.DropPath,
                Distillation = options.Distillation,
                StartImageSize = options.StartImageSize,
                FullSizeEpochs = options.FullSizeEpochs,
            };
        if (!options.Mixup)
            recipe = recipe with { MixupAlpha = 0, CutmixAlpha = 0 };
        if (!options.Ema)
            recipe = recipe with { EmaDecay = null };
        return recipe;
    }

    /// <summary>Disposes the model.</summary>
    public void Dispose() => Model.Dispose();
}
