namespace EfficientViT.ML.Training;

/// <summary>How <see cref="EfficientVitTrainer"/> runs, besides the recipe's hyper-parameters.</summary>
public sealed class TrainerOptions
{
    /// <summary>Folder for checkpoints (<c>last</c>, <c>best</c>) and <c>metrics.csv</c>; null keeps nothing on disk.</summary>
    public string? OutputDirectory { get; set; }

    /// <summary>Continue from the <c>last</c> checkpoint in <see cref="OutputDirectory"/> if there is one.</summary>
    public bool Resume { get; set; }

    /// <summary>Train only the classifier: every backbone parameter is frozen.</summary>
    public bool FreezeBackbone { get; set; }

    /// <summary>Keep BatchNorm layers in eval mode (running statistics fixed), as fine-tuning from a checkpoint can.</summary>
    public bool BatchNormEval { get; set; }

    /// <summary>Learning-rate multiplier of backbone parameters (fine-tuning often uses 0.1).</summary>
    public double BackboneLearningRateScale { get; set; } = 1.0;

    /// <summary>Data-loading worker threads.</summary>
    public int Workers { get; set; } = Math.Max(1, Environment.ProcessorCount - 1);

    /// <summary>Torch intra-op threads; null keeps libtorch's default (all cores).</summary>
    public int? Threads { get; set; }

    /// <summary>Stop after this many optimizer steps in total (tests and quick checks); null runs every epoch.</summary>
    public long? MaxSteps { get; set; }

    /// <summary>The teacher of a distillation run (the recipe's <see cref="TrainingRecipe.Distillation"/> is Soft or Hard); the model needs its distillation head.</summary>
    public ITeacher? Teacher { get; set; }

    /// <summary>Class names saved with the checkpoints.</summary>
    public IReadOnlyList<string>? ClassNames { get; set; }
}
