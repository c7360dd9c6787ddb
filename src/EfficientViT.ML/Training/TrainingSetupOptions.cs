using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Preprocessing;

namespace EfficientViT.ML.Training;

/// <summary>What <see cref="TrainingSetup.Prepare"/> starts a run from: the model's origin, the data's preprocessing and the recipe's knobs.</summary>
/// <example>
/// <code>
/// var fromScratch = new TrainingSetupOptions { Variant = EfficientVitVariant.M1, ImageSize = 160, Epochs = 30 };
/// var fineTuning = new TrainingSetupOptions { Checkpoint = "efficientvit_m0.pth", Epochs = 5, BatchSize = 32 };
/// var fashion = TrainingSetupOptions.ForFashionMnist(imageSize: 64) with { Epochs = 8 };
/// </code>
/// </example>
public sealed record TrainingSetupOptions
{
    /// <summary>Peak learning rate from scratch when <see cref="LearningRate"/> is not set: short runs on small data want more than the recipe's 1e-3 × batch / 512.</summary>
    public const double FromScratchLearningRate = 2e-3;

    /// <summary>Peak learning rate of the new head when fine-tuning and <see cref="LearningRate"/> is not set.</summary>
    public const double FineTuningLearningRate = 5e-4;

    /// <summary>A checkpoint to fine-tune (official <c>.pth</c>, timm or own <c>.safetensors</c>, or a pretrained name such as <c>m0</c>, see <see cref="Checkpoints.Pretrained.EfficientVitPretrained"/>); its head is replaced by one for the data's classes. Null trains <see cref="Variant"/> from scratch.</summary>
    public string? Checkpoint { get; init; }

    /// <summary>The variant to train from scratch (ignored with <see cref="Checkpoint"/>).</summary>
    public EfficientVitVariant Variant { get; init; } = EfficientVitVariant.M0;

    /// <summary>Input side, a multiple of 16; default the checkpoint's, else <see cref="Preprocessing"/>'s, else 224.</summary>
    public int? ImageSize { get; init; }

    /// <summary>How a checkpoint's attention bias tables are fitted to another <see cref="ImageSize"/> (see <see cref="Checkpoints.CheckpointLoadOptions.BiasResampling"/>).</summary>
    public AttentionBiasResampling BiasResampling { get; init; } = AttentionBiasResampling.Interpolate;

    /// <summary>
    /// The data's statistics, crop and grayscale conversion (at any size: the model's is used). Default: the
    /// checkpoint's without its grayscale conversion (colour data does not need it), or ImageNet's from scratch.
    /// </summary>
    public ImagePreprocessing? Preprocessing { get; init; }

    /// <summary>
    /// The filter of every resize of the run, in place of the preprocessing's (<see cref="ImagePreprocessing.Interpolation"/>);
    /// null (default) keeps that: bicubic, or what a checkpoint of an earlier version was trained with.
    /// </summary>
    public ImageInterpolation? Interpolation { get; init; }

    /// <summary>
    /// The folder of the run this setup continues (with <see cref="TrainerOptions.Resume"/>), or null (default) for a new run.
    /// The resumed run resizes with the interpolation its <c>last</c> checkpoint records — a run of an earlier version,
    /// which records none, as that version did — whatever the default now; an <see cref="Interpolation"/> that differs is refused.
    /// </summary>
    public string? ResumedRun { get; init; }

    /// <summary>Builds the training transform from the run's preprocessing; default timm's ImageNet augmentation (<c>new ImageTransform(p, train: true)</c>).</summary>
    public Func<ImagePreprocessing, ImageTransform>? TrainTransform { get; init; }

    /// <summary>
    /// A low-to-high resolution schedule: the side of the first epochs' images (a multiple of 16 below the model's), or
    /// null (default) for none. See <see cref="TrainingRecipe.StartImageSize"/>.
    /// </summary>
    public int? StartImageSize { get; init; }

    /// <summary>With <see cref="StartImageSize"/>: the last epochs, trained at the model's own size (default 3).</summary>
    public int FullSizeEpochs { get; init; } = 3;

    /// <summary>Training epochs.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Images per optimizer step.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Peak learning rate; default <see cref="FromScratchLearningRate"/> or <see cref="FineTuningLearningRate"/>.</summary>
    public double? LearningRate { get; init; }

    /// <summary>Seed of the new weights and of every random draw of the run.</summary>
    public int Seed { get; init; }

    /// <summary>Mixup 0.8 / cutmix 1.0, as the official recipe (helps long runs).</summary>
    public bool Mixup { get; init; }

    /// <summary>Keep a model EMA (its decay scaled to the run) and validate it.</summary>
    public bool Ema { get; init; }

    /// <summary>Stochastic-depth rate.</summary>
    public double DropPath { get; init; }

    /// <summary>Distillation from a teacher into the distillation head (the model gets one when it has none).</summary>
    public DistillationMode Distillation { get; init; } = DistillationMode.None;

    /// <summary>How the weights are made (data, tool), recorded in the checkpoints' <c>Training</c> metadata; null keeps the checkpoint's.</summary>
    public IReadOnlyDictionary<string, string>? Notes { get; init; }

    /// <summary>Fashion-MNIST: its grayscale statistics, <see cref="ImageTransform.FashionMnist(ImagePreprocessing, bool)"/>'s lighter augmentation, and <paramref name="imageSize"/> from scratch.</summary>
    /// <param name="imageSize">Input side when training from scratch; a checkpoint keeps its own unless <see cref="ImageSize"/> is set.</param>
    public static TrainingSetupOptions ForFashionMnist(int imageSize = 64) => new()
    {
        Preprocessing = ImagePreprocessing.FashionMnist(imageSize),
        TrainTransform = p => ImageTransform.FashionMnist(p, train: true),
    };

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first value out of range.</summary>
    public TrainingSetupOptions Validate()
    {
        static void Check(bool ok, string name, object? value, string rule)
        {
            if (!ok)
                throw new ArgumentException($"{name} = {value}: {rule}.");
        }

        Check(ImageSize is null || (ImageSize > 0 && ImageSize % 16 == 0 && ImageSize <= EfficientVitConfig.MaxImageSize), nameof(ImageSize), ImageSize,
            $"must be a positive multiple of 16 (the patch embedding's stride) up to {EfficientVitConfig.MaxImageSize}");
        Check(Checkpoint is not null || ImageSize is not null || Preprocessing is null || Preprocessing.ImageSize % 16 == 0,
            nameof(Preprocessing), Preprocessing?.ImageSize, "its image size must be a multiple of 16 (or set ImageSize)");
        Preprocessing?.Validate();
        Check(Epochs >= 1, nameof(Epochs), Epochs, "must be at least 1");
        Check(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be at least 1");
        Check(LearningRate is null || (double.IsFinite(LearningRate.Value) && LearningRate > 0), nameof(LearningRate), LearningRate, "must be positive and finite");
        Check(DropPath is >= 0 and < 1, nameof(DropPath), DropPath, "must be in [0, 1)");
        Check(StartImageSize is not { } start || EfficientVitConfig.IsResizableImageSize(start), nameof(StartImageSize), StartImageSize, "must be a multiple of 16 from 32");
        Check(StartImageSize is null || TrainingRecipe.IsFullSizeEpochCountValid(FullSizeEpochs, Epochs), nameof(FullSizeEpochs), FullSizeEpochs,
            $"must be at least 1 and less than Epochs ({Epochs}) with a StartImageSize");
        Check(Enum.IsDefined(Distillation), nameof(Distillation), Distillation, "is not a distillation mode");
        Check(Interpolation is not { } interpolation || Enum.IsDefined(interpolation), nameof(Interpolation), Interpolation, "must be Bicubic or Bilinear");
        Check(ResumedRun is null || ResumedRun.Trim().Length > 0, nameof(ResumedRun), $"'{ResumedRun}'", "must name the run's folder, or be null for a new run");
        return this;
    }
}
