using EfficientViT.ML.Acceleration;

namespace EfficientViT.ML.Training;

/// <summary>How <see cref="EfficientVitTrainer"/> runs, besides the recipe's hyper-parameters.</summary>
public sealed class TrainerOptions
{
    /// <summary>Folder of the run (<see cref="TrainingRunFolder"/>: checkpoints <c>last</c> and <c>best</c>, <c>metrics.csv</c>, <c>curves.svg</c>); null keeps nothing on disk.</summary>
    public string? OutputDirectory { get; set; }

    /// <summary>
    /// Draws the run folder's <c>curves.svg</c> after every epoch from the epochs so far, e.g.
    /// <c>SvgCharts.TrainingCurves</c> of the EfficientViT.Reporting package; null (default): no chart.
    /// </summary>
    public Func<IReadOnlyList<EpochSummary>, string>? CurvesChart { get; set; }

    /// <summary>
    /// Continue from the <c>last</c> checkpoint in <see cref="OutputDirectory"/>; training throws if there is none, or if the
    /// metadata's interpolation is not the one the run records (prepare the run with <see cref="TrainingSetupOptions.ResumedRun"/>).
    /// </summary>
    public bool Resume { get; set; }

    /// <summary>Train only the classifier: every backbone parameter is frozen.</summary>
    public bool FreezeBackbone { get; set; }

    /// <summary>Keep BatchNorm layers in eval mode (running statistics fixed), as fine-tuning from a checkpoint can.</summary>
    public bool BatchNormEval { get; set; }

    /// <summary>Learning-rate multiplier of backbone parameters (fine-tuning often uses 0.1).</summary>
    public double BackboneLearningRateScale { get; set; } = 1.0;

    /// <summary>Data-loading worker threads.</summary>
    public int Workers { get; set; } = Math.Max(1, Environment.ProcessorCount - 1);

    /// <summary>
    /// Torch intra-op threads. Null: training steps run on all cores or on one, whichever the trainer
    /// times faster (compared again as the run goes on, since other work on the machine changes the answer, and at
    /// once when steps slow down: see <see cref="ThreadCountWatcher"/>), and validation at the same count. A set count gives runs that repeat bit for bit (float sums split over
    /// threads round differently). Torch's count is global to the process: the caller's is restored when
    /// training ends.
    /// </summary>
    public int? Threads { get; set; }

    /// <summary>
    /// Let the C library's heap keep freed activations for the next step instead of returning them to the
    /// operating system (<see cref="NativeHeap.KeepFreedMemory"/>; process-wide, glibc only): fewer page faults,
    /// 0.5–8% more images/s at 112x112 on a 2-core AMD EPYC; the process keeps the memory of its largest step.
    /// Default true.
    /// </summary>
    public bool KeepFreedNativeMemory { get; set; } = true;

    /// <summary>
    /// Activation checkpointing: the patch embedding and each stage keep only their input for the backward pass and
    /// recompute their activations there (<see cref="ActivationCheckpointing"/>), for a larger batch or image on a
    /// small machine. Each step costs about one more forward pass; gradients, BatchNorm statistics and stochastic
    /// depth's draws are those of a step without it. Default false.
    /// </summary>
    public bool CheckpointActivations { get; set; }

    /// <summary>Stop after this many optimizer steps in total (tests and quick checks); null runs every epoch.</summary>
    public long? MaxSteps { get; set; }

    /// <summary>
    /// The time the run may take, like ML.NET AutoML's <c>MaxExperimentTimeInSeconds</c>: training, validation and
    /// checkpoints end within it. The trainer measures its pace from the first steps and plans, after every step,
    /// how many steps fit (at most the recipe's epochs, or <see cref="MaxSteps"/>); the warm-up, the cosine decay
    /// and the EMA decay follow the plan, and stay continuous when a change of pace changes it. The last epoch may
    /// end part-way; it is validated and saved like the others. The run folder's <c>last/state.json</c> and
    /// <see cref="TrainingResult.TimeBudget"/> tell what the budget bought; a resumed run keeps its budget and the
    /// time it had spent. Not with a low-to-high resolution schedule (<see cref="TrainingRecipe.StartImageSize"/>).
    /// Null (default): the recipe's epochs, however long they take.
    /// </summary>
    public TimeSpan? TimeBudget { get; set; }

    /// <summary>
    /// Work after training that <see cref="TimeBudget"/> must also hold, in validation passes (e.g. 3 for an
    /// evaluation of the test set with and without flip averaging): it costs what validation costs on this machine
    /// at this time, which the trainer measures. Default 0.
    /// </summary>
    internal double ValidationPassesAfterTraining { get; set; }

    /// <summary>The clock <see cref="TimeBudget"/> is spent on (tests give a fake one); default the system's.</summary>
    public TimeProvider Clock { get; set; } = TimeProvider.System;

    /// <summary>The teacher of a distillation run (the recipe's <see cref="TrainingRecipe.Distillation"/> is Soft or Hard); the model needs its distillation head.</summary>
    public ITeacher? Teacher { get; set; }

    /// <summary>
    /// Throws an <see cref="ArgumentException"/> naming the first value out of range. The trainer calls it
    /// before any native call: libtorch aborts the process on zero threads instead of reporting it.
    /// </summary>
    public void Validate()
    {
        static void Check(bool ok, string name, object? value, string rule)
        {
            if (!ok)
                throw new ArgumentException($"{name} = {value}: {rule}.");
        }

        Check(Workers >= 1, nameof(Workers), Workers, "must be at least 1");
        Check(Threads is null or >= 1, nameof(Threads), Threads, "must be at least 1, or null for libtorch's default");
        Check(TimeBudget is null || TimeBudget > TimeSpan.Zero, nameof(TimeBudget), TimeBudget, "must be positive, or null to run the recipe's epochs");
        Check(double.IsFinite(ValidationPassesAfterTraining) && ValidationPassesAfterTraining >= 0, nameof(ValidationPassesAfterTraining), ValidationPassesAfterTraining, "must be finite and not negative");
        Check(MaxSteps is null or >= 1, nameof(MaxSteps), MaxSteps, "must be at least 1, or null to run every epoch");
        Check(double.IsFinite(BackboneLearningRateScale) && BackboneLearningRateScale >= 0, nameof(BackboneLearningRateScale), BackboneLearningRateScale, "must be finite and not negative");
        if (OutputDirectory is not null)
            _ = new TrainingRunFolder(OutputDirectory);
        if (Resume && OutputDirectory is null)
            throw new ArgumentException("Resume needs the run's folder (OutputDirectory).");
    }
}
