using System.Diagnostics;
using System.Globalization;
using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Training;

/// <summary>
/// Trains an EfficientViT classifier with the official recipe's ingredients: AdamW with per-group weight
/// decay, cosine schedule with warm-up, label smoothing, mixup/cutmix, drop path, gradient clipping and
/// model EMA. Every step runs in a dispose scope, every random draw derives from (seed, epoch, step),
/// checkpoints are written atomically each epoch, and a resumed run continues exactly where it stopped.
/// </summary>
/// <example>
/// <code>
/// var train = FashionMnistDataset.Load(FashionMnistSplit.Train);
/// var validation = FashionMnistDataset.Load(FashionMnistSplit.Test);
/// using var setup = TrainingSetup.Prepare(TrainingSetupOptions.ForFashionMnist(imageSize: 64) with { Epochs = 10 }, train);
/// var trainer = new EfficientVitTrainer(setup.Model, setup.Recipe, new TrainerOptions { OutputDirectory = "runs/m0" }, setup.Metadata);
/// var result = trainer.Train(train, validation, setup.TrainTransform, setup.EvalTransform);
/// </code>
/// </example>
public sealed class EfficientVitTrainer
{
    private readonly EfficientVit model;
    private readonly TrainingRecipe recipe;
    private readonly TrainerOptions options;
    private readonly CheckpointMetadata metadata;

    /// <summary>Prepares to train <paramref name="model"/>; <paramref name="metadata"/> is written with every checkpoint.</summary>
    public EfficientVitTrainer(EfficientVit model, TrainingRecipe recipe, TrainerOptions options, CheckpointMetadata metadata)
    {
        recipe.Validate();
        options.Validate();
        if (model.IsFused)
            throw new ArgumentException("A BN-fused model cannot be trained; train the unfused model.", nameof(model));
        recipe.CheckImageSizesFor(model.Config.ImageSize);
        if (recipe.Distillation != DistillationMode.None)
        {
            if (options.Teacher is not { } teacher)
                throw new ArgumentException($"{recipe.Distillation} distillation needs a teacher (TrainerOptions.Teacher).", nameof(options));
            if (model.DistillationHead is null)
                throw new ArgumentException("Distillation trains the distillation head: build the model with distillation: true.", nameof(model));
            if (teacher.NumClasses != model.Config.NumClasses)
                throw new ArgumentException($"The teacher predicts {teacher.NumClasses} classes; the student has {model.Config.NumClasses}.", nameof(options));
        }
        if (options.TimeBudget is not null && recipe.StartImageSize is not null)
            throw new ArgumentException("A time budget plans the run's length as it goes, and a low-to-high resolution schedule needs the length at the start: use one of TrainerOptions.TimeBudget and TrainingRecipe.StartImageSize.", nameof(options));
        this.model = model;
        this.recipe = recipe;
        this.options = options;
        this.metadata = metadata;
    }

    /// <summary>Runs the training; returns when every epoch is done, on cancellation (after saving a checkpoint), or on a non-finite loss.</summary>
    public TrainingResult Train(IImageDataset train, IImageDataset? validation, ImageTransform trainTransform, ImageTransform evalTransform,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (train.ClassNames.Count != model.Config.NumClasses)
            throw new ArgumentException($"The model has {model.Config.NumClasses} classes; the training data has {train.ClassNames.Count}.");
        if (metadata.ClassNames is { } named && !named.SequenceEqual(train.ClassNames))
            throw new ArgumentException($"The metadata names the classes {string.Join(", ", named)}; the training data's are {string.Join(", ", train.ClassNames)}.");
        // The checkpoints record the classes of the data the weights learn from.
        var checkpointMetadata = metadata with { ClassNames = train.ClassNames.ToArray() };
        var run = options.OutputDirectory is { } output ? new TrainingRunFolder(output) { Chart = options.CurvesChart } : null;
        // Held until training ends: a second run into the folder fails at once instead of interleaving its saves.
        using var runLock = run?.Lock();
        if (options.Resume)
        {
            // A run keeps one interpolation: metadata prepared as for a new run would switch the rest of the run to the
            // default of the day (TrainingSetup prepares a resumed run with its own when told the run's folder).
            var recorded = run!.RecordedInterpolation();
            if (recorded != metadata.Preprocessing.Interpolation)
                throw new InvalidOperationException($"{run.LastPath} was trained resizing with {TrainingRunFolder.Describe(recorded)}; the metadata given to the trainer records " +
                    $"{TrainingRunFolder.Describe(metadata.Preprocessing.Interpolation)}. A resumed run keeps its own: prepare it with TrainingSetupOptions.ResumedRun (the run's folder).");
        }
        // Without a set count, training steps run at whichever of all cores and one core times faster
        // (see ThreadCountTuner); everything else keeps all cores. One core is timed first, so that all
        // cores, when they collapse, are dropped after a single step. The caller's count (torch's is global to
        // the process) is restored when training ends.
        var callerThreads = get_num_threads();
        var allThreads = options.Threads ?? callerThreads;
        var tuner = options.Threads is null && allThreads > 1 ? new ThreadCountWatcher([1, allThreads]) : null;

        model.SetDropPathRate(recipe.DropPath);
        if (options.FreezeBackbone)
        {
            foreach (var (name, parameter) in model.named_parameters())
                parameter.requires_grad = !OptimizerFactory.IsBackboneParameter(name);
        }
        // Training runs on the fast layers and channels-last weights (the faster layout for its convolutions; not
        // for batches of one, a batch size of 1 or a single image). Saving and the caller need the weights
        // contiguous, so they are restored around every save and when training ends. Set up before the optimizer
        // is built: its flat buffer keeps the layout it finds, and takes the weights back into it after each save.
        using var acceleration = new TrainingAcceleration(model, channelsLast: recipe.BatchSize > 1 && train.Count > 1, options.KeepFreedNativeMemory, options.CheckpointActivations);
        using var optimizer = OptimizerFactory.CreateAdamW(model, recipe, OptimizerFactory.IsBackboneParameter, options.BackboneLearningRateScale);
        ImageBatchLoader NewLoader(ImageTransform transform) =>
            new(train, transform, recipe.BatchSize, shuffle: true, recipe.Seed, options.Workers, dropLast: train.Count >= recipe.BatchSize);
        using var loader = NewLoader(trainTransform);
        var stepsPerEpoch = loader.BatchesPerEpoch;
        var schedule = CosineSchedule.ForRecipe(recipe, stepsPerEpoch);
        var recipeSteps = (long)recipe.Epochs * stepsPerEpoch;
        var totalSteps = options.MaxSteps is { } max ? Math.Min(max, recipeSteps) : recipeSteps;
        using var ema = recipe.EmaDecay is { } decay ? new ModelEma(model, decay) : null;
        // Averaged in place over the optimizer's flat buffer; the loop updates the average right after each step.
        if (ema is not null && optimizer.Optimizer is ScalarSafeAdamW { Flat: { } flat })
            ema.AverageFlat(flat, model);
        var mixer = recipe.IsMixingEnabled ? MixupCutmix.FromRecipe(recipe, model.Config.NumClasses) : null;

        var state = new TrainingState { Seed = recipe.Seed };
        var summaries = new List<EpochSummary>();
        if (options.Resume)
        {
            (state, summaries) = run!.Resume(model, optimizer.Optimizer, ema);
            if (state.Seed != recipe.Seed)
                throw new InvalidOperationException($"{run.LastPath} was made with seed {state.Seed}; resume with the same seed (found {recipe.Seed}).");
        }

        // A time budget sets the run's length (at most the recipe's) and its schedule; a resumed run keeps its own.
        var budget = options.TimeBudget is not null || state.Budget is not null
            ? new TrainingTimeBudget(options.TimeBudget ?? TimeSpan.FromSeconds(state.Budget!.BudgetSeconds), options.Clock, stepsPerEpoch, recipe.BatchSize,
                totalSteps, validation?.Count ?? 0, run is not null, (double)recipe.WarmupEpochs / recipe.Epochs, state.Budget, state.Step, options.ValidationPassesAfterTraining)
            : null;
        if (budget is not null)
            totalSteps = budget.PlannedSteps;
        int EpochsPlanned() => budget is null ? recipe.Epochs : (int)Math.Ceiling((double)totalSteps / stepsPerEpoch);
        TrainingResult WithPlan(TrainingResult result) => result with { TimeBudget = budget?.Plan(), ThreadsChosen = tuner?.Chosen };

        void Save(TrainingState position)
        {
            void Write() => acceleration.WithContiguousWeights(() =>
                run?.Save(model, RecordOf(checkpointMetadata, position), optimizer.Optimizer, ema?.State, position, summaries));
            if (budget is null)
            {
                Write();
                return;
            }
            position = position with { Budget = budget.Plan() };
            budget.TimeSave(Write);
        }

        var step = state.Step;
        var bestTop1 = state.BestTop1;
        var bestEpoch = state.BestEpoch;
        var started = Stopwatch.StartNew();
        var stepsAtStart = step;
        try
        {
            if (allThreads != callerThreads)
                set_num_threads(allThreads);
            // A budget that buys less than an epoch ends before any validation is measured: slices of one are timed first.
            if (budget is { ValidationCostKnown: false } && validation is not null && validation.Count > 2 * recipe.BatchSize)
            {
                if (tuner is not null)
                    set_num_threads(tuner.Chosen);
                var firstSide = recipe.ImageSizeAt(state.Epoch, model.Config.ImageSize);
                budget.ProbeValidation(recipe.BatchSize, Math.Min(validation.Count, 4 * recipe.BatchSize), images =>
                    Validate(new SubsetDataset(validation, Enumerable.Range(0, images)), evalTransform.WithImageSize(firstSide), ema, cancellationToken));
            }
            for (var epoch = state.Epoch; epoch < recipe.Epochs && step < totalSteps; epoch++)
            {
                var epochClock = Stopwatch.StartNew();
                budget?.StartSteps();
                tuner?.Forget();
                SetTrainMode();
                // A low-to-high resolution schedule: this epoch's side, for the images and the network alike.
                var side = recipe.ImageSizeAt(epoch, model.Config.ImageSize);
                model.SetInputSize(side);
                using var smallerLoader = side == trainTransform.ImageSize ? null : NewLoader(trainTransform.WithImageSize(side));
                var (lossSum, lossCount, images) = (0.0, 0, 0L);
                var batchIndex = epoch == state.Epoch ? state.BatchesDoneInEpoch : 0;
                foreach (var batch in (smallerLoader ?? loader).Epoch(epoch, batchIndex))
                {
                    using var owned = batch;
                    if (cancellationToken.IsCancellationRequested)
                    {
                        Save(state with { Epoch = epoch, BatchesDoneInEpoch = batchIndex, Step = step, BestTop1 = bestTop1, BestEpoch = bestEpoch });
                        var saved = run is null ? "" : $"; the run was saved in {run.LastPath} and can be resumed from there";
                        return WithPlan(new TrainingResult(summaries, false, $"cancelled{saved}", bestTop1, step) { Cancelled = true });
                    }

                    var learningRate = budget?.LearningRate(schedule) ?? schedule.LearningRate(step);
                    optimizer.SetLearningRate(learningRate);
                    if (tuner is not null && get_num_threads() != tuner.ThreadsForNextStep)
                        set_num_threads(tuner.ThreadsForNextStep);
                    var stepStart = Stopwatch.GetTimestamp();
                    var loss = TrainStep(optimizer, acceleration, batch, mixer, step);
                    StepGarbage.Collect();
                    tuner?.Report(Stopwatch.GetElapsedTime(stepStart));
                    if (!double.IsFinite(loss))
                    {
                        var kept = run is { HasCheckpoint: true } ? $"; the last good checkpoint is kept in {run.LastPath}" : "";
                        return new TrainingResult(summaries, false,
                            $"the loss became {loss} at epoch {epoch + 1}, step {step + 1} (learning rate {learningRate:G3}){kept}. Lower the learning rate or enable gradient clipping.",
                            bestTop1, step);
                    }
                    ema?.Update(model);
                    step++;
                    batchIndex++;
                    if (budget is not null)
                    {
                        budget.StepDone(step, batchIndex);
                        totalSteps = budget.PlannedSteps;
                        if (ema is not null)
                            ema.Decay = budget.EmaDecay(recipe.EmaDecay!.Value, recipeSteps);
                    }
                    lossSum += loss;
                    lossCount++;
                    images += batch.Count;
                    var rate = images / epochClock.Elapsed.TotalSeconds;
                    var done = step - stepsAtStart;
                    var eta = done == 0 ? TimeSpan.Zero : started.Elapsed / done * (totalSteps - step);
                    progress?.Report(new TrainingProgress(epoch, EpochsPlanned(), step, totalSteps, lossSum / lossCount, learningRate, rate, eta));
                    if (step >= totalSteps)
                        break;
                }

                // A budget's last epoch may end inside the epoch; it is validated and saved like any other.
                if (batchIndex < stepsPerEpoch && budget is null)
                {
                    // MaxSteps ended the run inside the epoch: keep the position so that resuming finishes it.
                    Save(state with { Epoch = epoch, BatchesDoneInEpoch = batchIndex, Step = step, BestTop1 = bestTop1, BestEpoch = bestEpoch });
                    return new TrainingResult(summaries, true, null, bestTop1, step);
                }

                // Validation runs at the count the steps chose: when another process holds a core, all cores collapse
                // for validation as they do for training (10,000 images took 171 s at two threads on a shared 2-core
                // machine, where one thread trained 128 images a second).
                if (tuner is not null)
                    set_num_threads(tuner.Chosen);
                var validate = () => Validate(validation, evalTransform.WithImageSize(side), ema, cancellationToken);
                var (validationLoss, top1, top5) = budget is null ? validate() : budget.TimeValidation(validate);
                var summary = new EpochSummary(epoch, lossCount == 0 ? double.NaN : lossSum / lossCount, validationLoss, top1, top5,
                    schedule.LearningRate(Math.Max(0, step - 1)), images / epochClock.Elapsed.TotalSeconds, epochClock.Elapsed.TotalSeconds);
                summaries.Add(summary);
                var improved = !double.IsNaN(top1) && (double.IsNaN(bestTop1) || top1 > bestTop1);
                if (improved)
                    (bestTop1, bestEpoch) = (top1, epoch + 1);
                Save(state with { Epoch = epoch + 1, BatchesDoneInEpoch = 0, Step = step, BestTop1 = bestTop1, BestEpoch = bestEpoch });
                progress?.Report(new TrainingProgress(epoch, EpochsPlanned(), step, totalSteps, summary.TrainLoss, summary.LearningRate, summary.ImagesPerSecond, started.Elapsed / Math.Max(1, step - stepsAtStart) * (totalSteps - step), summary));
            }
            acceleration.Dispose();
            ema?.CopyTo(model);
            model.eval();
            return WithPlan(new TrainingResult(summaries, true, null, bestTop1, step));
        }
        finally
        {
            model.SetInputSize(model.Config.ImageSize);
            // A set count, or the tuner's one thread: the caller gets the count it had.
            if (get_num_threads() != callerThreads)
                set_num_threads(callerThreads);
        }
    }

    private double TrainStep(AdamWWithGroups optimizer, TrainingAcceleration acceleration, ImageBatch batch, MixupCutmix? mixer, long step)
    {
        using var scope = NewDisposeScope();
        // Drop path draws from torch's generator: seeding it per step makes a resumed run draw the same masks.
        manual_seed(StepSeed(step));
        var images = batch.Images;
        Func<Tensor, Tensor> targetsLoss = logits => Losses.LabelSmoothingCrossEntropy(logits, batch.Labels, recipe.LabelSmoothing);
        if (mixer is not null)
        {
            var (mixed, targets) = mixer.Apply(batch.Images, batch.Labels, new Random(StepSeed(step)));
            images = mixed;
            targetsLoss = logits => Losses.SoftTargetCrossEntropy(logits, targets);
        }
        // The model's input in the weights' layout; the teacher (which may read the values as an array) gets the original.
        var modelInput = acceleration.Input(images);
        Tensor loss;
        if (recipe.Distillation == DistillationMode.None)
        {
            loss = targetsLoss(model.forward(modelInput));
        }
        else
        {
            // DeiT: the class head learns from the labels, the distillation head from the teacher.
            var (logits, distillationLogits) = model.ForwardWithDistillation(modelInput);
            loss = Losses.Distillation(logits, distillationLogits, options.Teacher!.Logits(images), targetsLoss,
                recipe.Distillation, recipe.DistillationAlpha, recipe.DistillationTau);
        }
        optimizer.Optimizer.zero_grad();
        loss.backward();
        optimizer.ClipGradients(recipe.GradientClipMode, recipe.GradientClip);
        optimizer.Optimizer.step();
        return loss.item<float>();
    }

    private int StepSeed(long step) => unchecked((int)(recipe.Seed * 1_000_003L + step * 7_919L));

    // With EMA, the averaged weights are what a run keeps, so they are what validation measures.
    private (double Loss, double Top1, double Top5) Validate(IImageDataset? validation, ImageTransform transform, ModelEma? ema, CancellationToken cancellationToken)
    {
        if (validation is null || validation.Count == 0)
            return (double.NaN, double.NaN, double.NaN);
        using var evaluated = ema is null ? null : new EfficientVit(model.Config);
        if (evaluated is not null)
        {
            ema!.CopyTo(evaluated);
            evaluated.SetInputSize(transform.ImageSize);
        }
        var (metrics, loss) = Evaluator.Evaluate(evaluated ?? model, validation, transform, recipe.BatchSize, options.Workers, cancellationToken: cancellationToken);
        return (loss, metrics.Top1Accuracy, metrics.Top5Accuracy ?? double.NaN);
    }

    private void SetTrainMode()
    {
        model.train();
        if (!options.BatchNormEval)
            return;
        foreach (var (_, module) in model.named_modules())
        {
            if (module is BatchNorm2d or BatchNorm1d)
                module.eval();
        }
    }

    // What a checkpoint records besides the weights: the run's metadata and where the run stands.
    private CheckpointMetadata RecordOf(CheckpointMetadata record, TrainingState state) => record with
    {
        Training = new Dictionary<string, string>(record.Training)
        {
            ["epochs_done"] = state.Epoch.ToString(CultureInfo.InvariantCulture),
            ["steps"] = state.Step.ToString(CultureInfo.InvariantCulture),
            ["best_validation_top1"] = state.BestTop1.ToString("R", CultureInfo.InvariantCulture),
            ["recipe"] = recipe.ToString(),
        },
    };
}
