using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Modeling;

/// <summary>
/// EfficientViT ("Memory Efficient Vision Transformer with Cascaded Group Attention", CVPR 2023).
/// The module tree and names follow the official implementation, so <c>state_dict()</c> keys are the
/// official checkpoint keys: <c>patch_embed</c>, <c>blocks1</c>..<c>blocks3</c>, <c>head</c>
/// (and <c>head_dist</c> with distillation).
/// </summary>
/// <remarks>
/// Stage outputs (for detection-style heads), for an input of side S:
/// stage 0 = <c>blocks1</c>, EmbedDims[0] channels, stride 16;
/// stage 1 = <c>blocks2</c>, EmbedDims[1] channels, stride 32;
/// stage 2 = <c>blocks3</c>, EmbedDims[2] channels, stride 64 (sides round up: 224 gives 14, 7, 4).
/// </remarks>
/// <example>
/// <code>
/// using var model = EfficientVit.Create(EfficientVitVariant.M0, numClasses: 10);
/// model.eval();
/// using var scope = torch.NewDisposeScope();
/// var logits = model.forward(torch.randn(8, 3, 224, 224));      // (8, 10)
/// var features = model.PooledFeatures(torch.randn(8, 3, 224, 224)); // (8, 192)
/// </code>
/// </example>
public sealed class EfficientVit : nn.Module<Tensor, Tensor>
{
    private readonly Sequential patch_embed;
    private readonly Sequential blocks1;
    private readonly Sequential blocks2;
    private readonly Sequential blocks3;
    private BNLinear? head;
    private BNLinear? head_dist;
    private int? inputSize;

    static EfficientVit()
    {
        // Module constructors call into libtorch before anything touches the torch class. In a normal app the
        // native library resolves through deps.json; in .NET Interactive and F# Interactive it is found only by
        // torch's static constructor, so run it first.
        System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(torch).TypeHandle);
    }

    /// <summary>Builds the network described by <paramref name="config"/> with freshly initialised weights.</summary>
    public EfficientVit(EfficientVitConfig config) : base(nameof(EfficientVit))
    {
        config.Validate();
        Config = config;
        var dims = config.EmbedDims;

        var c0 = dims[0];
        patch_embed = nn.Sequential(
            ("0", new Conv2dBN(3, c0 / 8, 3, 2, 1)), ("1", nn.ReLU()),
            ("2", new Conv2dBN(c0 / 8, c0 / 4, 3, 2, 1)), ("3", nn.ReLU()),
            ("4", new Conv2dBN(c0 / 4, c0 / 2, 3, 2, 1)), ("5", nn.ReLU()),
            ("6", new Conv2dBN(c0 / 2, c0, 3, 2, 1)));

        var dropPaths = DropPathSchedule(config);
        var stages = new List<(string, nn.Module<Tensor, Tensor>)>[EfficientVitConfig.StageCount];
        for (var stage = 0; stage < EfficientVitConfig.StageCount; stage++)
        {
            stages[stage] = new List<(string, nn.Module<Tensor, Tensor>)>();
            if (stage > 0)
            {
                // Between stages: a residual dw+FFN pair, the merge that halves the map, and another pair.
                var (inDim, outDim) = (dims[stage - 1], dims[stage]);
                stages[stage].Add(("0", DownsamplePair(inDim)));
                stages[stage].Add(("1", new PatchMerging(inDim, outDim)));
                stages[stage].Add(("2", DownsamplePair(outDim)));
            }
            for (var block = 0; block < config.Depths[stage]; block++)
            {
                stages[stage].Add(((stages[stage].Count).ToString(), new EfficientVitBlock(
                    dims[stage], config.KeyDim, config.NumHeads[stage], config.ValueDim(stage),
                    config.Resolution(stage), config.WindowSize, config.Kernels, dropPaths[stage][block])));
            }
        }
        blocks1 = nn.Sequential(stages[0]);
        blocks2 = nn.Sequential(stages[1]);
        blocks3 = nn.Sequential(stages[2]);

        if (config.NumClasses > 0)
        {
            head = new BNLinear(config.FeatureDim, config.NumClasses);
            if (config.Distillation)
                head_dist = new BNLinear(config.FeatureDim, config.NumClasses);
        }
        RegisterComponents();
    }

    /// <summary>
    /// A new model with this one's weights, built for another input size (a multiple of 16): attention bias
    /// tables whose window changes are resampled (<paramref name="resampling"/>), every other weight is copied.
    /// The new model is in eval mode; this one is not changed.
    /// </summary>
    /// <example>
    /// <code>
    /// using var at384 = model.WithImageSize(384);   // stage 3's 4x4 tables become 6x6
    /// </code>
    /// </example>
    public EfficientVit WithImageSize(int imageSize, AttentionBiasResampling resampling = AttentionBiasResampling.Interpolate)
    {
        if (!EfficientVitConfig.IsResizableImageSize(imageSize))
            throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, "the input size must be a multiple of 16 from 32 (the patch embedding's stride).");
        if (IsFused)
            throw new InvalidOperationException("Change the input size before fusing BatchNorm: a fused model has other weights.");
        return Rebuilt(Config with { ImageSize = imageSize }, resampling);
    }

    /// <summary>
    /// A new model, in eval mode, with this one's configuration and weights: for changing weights while this
    /// one stays as it is.
    /// </summary>
    internal EfficientVit Copy()
    {
        if (IsFused)
            throw new InvalidOperationException("Copy the model before fusing BatchNorm: a fused model has other weights.");
        // The same configuration: every attention window keeps its side, so no table is resampled.
        return Rebuilt(Config, AttentionBiasResampling.Interpolate);
    }

    // A new model built for config, in eval mode, with this one's weights and the attention tables whose window changes resampled.
    private EfficientVit Rebuilt(EfficientVitConfig config, AttentionBiasResampling resampling)
    {
        var rebuilt = new EfficientVit(config);
        try
        {
            using var scope = NewDisposeScope();
            var weights = state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
            var fitted = AttentionBiasTables.Resample(weights, Config, rebuilt.Config, resampling);
            rebuilt.load_state_dict(fitted.Where(kv => !kv.Key.EndsWith(".attention_bias_idxs", StringComparison.Ordinal)).ToDictionary(), strict: false);
            rebuilt.InvalidateCaches();
            rebuilt.eval();
            return rebuilt;
        }
        catch
        {
            rebuilt.Dispose();
            throw;
        }
    }

    /// <summary>Builds a paper variant.</summary>
    /// <param name="variant">M0 to M5.</param>
    /// <param name="imageSize">Input side in pixels (224 for the published weights).</param>
    /// <param name="numClasses">Classifier outputs; 0 for a backbone without head.</param>
    /// <param name="distillation">Adds the <c>head_dist</c> distillation classifier.</param>
    public static EfficientVit Create(EfficientVitVariant variant, int imageSize = 224, int numClasses = 1000, bool distillation = false) =>
        new(EfficientVitConfig.For(variant, imageSize, numClasses, distillation));

    /// <summary>The hyper-parameters of this network (NumClasses and Distillation follow <see cref="ResetClassifier"/>).</summary>
    public EfficientVitConfig Config { get; private set; }

    /// <summary>Whether <see cref="FuseBatchNorm"/> has run: the model is then for inference only.</summary>
    public bool IsFused { get; private set; }

    /// <summary>Channels of the three stage outputs.</summary>
    public IReadOnlyList<int> StageChannels => Config.EmbedDims;

    /// <summary>Down-sampling of the three stage outputs relative to the input: 16, 32, 64.</summary>
    public IReadOnlyList<int> StageStrides => Enumerable.Range(0, EfficientVitConfig.StageCount).Select(Config.Stride).ToArray();

    /// <summary>The patch embedding's modules in order (conv-BN, ReLU, ...).</summary>
    internal IEnumerable<nn.Module<Tensor, Tensor>> PatchEmbedding => patch_embed.children().Cast<nn.Module<Tensor, Tensor>>();

    /// <summary>The modules of each stage in order (down-sampling parts first for stages 1 and 2).</summary>
    internal IReadOnlyList<IReadOnlyList<nn.Module<Tensor, Tensor>>> Stages =>
        new[] { blocks1, blocks2, blocks3 }.Select(stage => (IReadOnlyList<nn.Module<Tensor, Tensor>>)stage.children().Cast<nn.Module<Tensor, Tensor>>().ToList()).ToList();

    /// <summary>The classifier, or null for a backbone.</summary>
    public BNLinear? Head => head;

    /// <summary>The distillation classifier, or null.</summary>
    public BNLinear? DistillationHead => head_dist;

    /// <summary>Class logits (B, NumClasses); with distillation the mean of both heads, as the official model does in eval; the pooled features when there is no head.</summary>
    public override Tensor forward(Tensor x)
    {
        var (logits, distillationLogits) = ForwardWithDistillation(x);
        return distillationLogits is null ? logits : logits.Plus(distillationLogits).DividedBy(2);
    }

    /// <summary>Both heads' logits for distillation training; the second is null without a distillation head.</summary>
    public (Tensor Logits, Tensor? DistillationLogits) ForwardWithDistillation(Tensor x)
    {
        var features = PooledFeatures(x);
        if (head is null)
            return (features, null);
        return (head.call(features), head_dist?.call(features));
    }

    /// <summary>The last stage's feature map (B, EmbedDims[2], S/64, S/64), before pooling.</summary>
    public Tensor ForwardFeatures(Tensor x) => ForwardStages(x)[^1];

    /// <summary>The globally average-pooled last feature map (B, EmbedDims[2]): the featurizer's output, the head's input.</summary>
    public Tensor PooledFeatures(Tensor x) => Pool(ForwardFeatures(x));

    /// <summary>The global average pooling of a last feature map (B, C, h, w) into the head's input (B, C).</summary>
    internal static Tensor Pool(Tensor features) => nn.functional.adaptive_avg_pool2d(features, 1).flatten(1);

    /// <summary>The last stage (<c>blocks3</c>), whose output the head pools.</summary>
    internal nn.Module<Tensor, Tensor> LastStage => blocks3;

    /// <summary>The outputs of the three stages (see the remarks for channels and strides).</summary>
    public Tensor[] ForwardStages(Tensor x)
    {
        CheckInput(x);
        var embedded = RunStage(patch_embed, x);
        var stage0 = RunStage(blocks1, embedded);
        var stage1 = RunStage(blocks2, stage0);
        var stage2 = RunStage(blocks3, stage1);
        return [stage0, stage1, stage2];
    }

    /// <summary>
    /// Runs each of the four parts (the patch embedding and the three stages) on its input in place of calling it;
    /// null calls them. Training's activation checkpointing sets it (see <c>Acceleration.ActivationCheckpointing</c>).
    /// </summary>
    internal Func<nn.Module<Tensor, Tensor>, Tensor, Tensor>? StageRunner { get; set; }

    private Tensor RunStage(nn.Module<Tensor, Tensor> stage, Tensor x) => StageRunner is { } run ? run(stage, x) : stage.call(x);

    /// <summary>The output of the patch embedding (B, EmbedDims[0], S/16, S/16).</summary>
    public Tensor ForwardPatchEmbedding(Tensor x)
    {
        CheckInput(x);
        return patch_embed.call(x);
    }

    /// <summary>
    /// Replaces the classifier with a freshly initialised one for <paramref name="numClasses"/> classes
    /// (0 removes it), e.g. to fine-tune an ImageNet backbone on other classes.
    /// </summary>
    public void ResetClassifier(int numClasses, bool? distillation = null)
    {
        if (numClasses < 0)
            throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "numClasses must be 0 (no head) or positive.");
        var withDistillation = numClasses > 0 && (distillation ?? head_dist is not null);
        ReplaceHead(nameof(head), ref head, numClasses > 0 ? new BNLinear(Config.FeatureDim, numClasses) : null);
        ReplaceHead(nameof(head_dist), ref head_dist, withDistillation ? new BNLinear(Config.FeatureDim, numClasses) : null);
        Config = Config with { NumClasses = numClasses, Distillation = withDistillation };
    }

    private void ReplaceHead(string name, ref BNLinear? field, BNLinear? replacement)
    {
        if (field is not null)
        {
            register_module(name, null!);
            field.Dispose();
        }
        field = replacement;
        if (replacement is not null)
        {
            replacement.train(training);
            register_module(name, replacement);
        }
    }

    /// <summary>
    /// Names of the parameters that take no weight decay, as the official recipe (timm's optimizer
    /// factory) has it: <c>attention_biases</c>, every bias, and every 1-D (normalization) parameter.
    /// </summary>
    public IReadOnlySet<string> NoWeightDecayParameterNames() =>
        named_parameters()
            .Where(p => p.name.EndsWith("attention_biases", StringComparison.Ordinal) || p.name.EndsWith(".bias", StringComparison.Ordinal) || p.parameter.dim() <= 1)
            .Select(p => p.name)
            .ToHashSet();

    /// <summary>
    /// Folds every batch normalization into the convolution or linear layer before it, for inference:
    /// same outputs in eval mode (to float rounding), fewer operations. Puts the model in eval mode;
    /// a fused model cannot be trained.
    /// </summary>
    public void FuseBatchNorm()
    {
        eval();
        foreach (var (_, module) in named_modules())
        {
            if (module is IFusable fusable)
                fusable.FuseBatchNorm();
        }
        IsFused = true;
    }

    /// <inheritdoc/>
    public override void train(bool on = true)
    {
        if (on && IsFused)
            throw new InvalidOperationException("This EfficientViT has its BatchNorm fused for inference and cannot be trained; load the unfused checkpoint to train.");
        base.train(on);
    }

    /// <summary>
    /// Sets stochastic depth on the attention blocks, growing linearly from 0 at the first block to
    /// <paramref name="rate"/> at the last (the down-sampling residuals keep none, as in the official model).
    /// </summary>
    public void SetDropPathRate(double rate)
    {
        Config = Config with { DropPathRate = rate };
        Config.Validate();
        var schedule = DropPathSchedule(Config);
        var blocks = Stages.Select(stage => stage.OfType<EfficientVitBlock>().ToList()).ToList();
        for (var stage = 0; stage < blocks.Count; stage++)
            for (var block = 0; block < blocks[stage].Count; block++)
                foreach (var layer in blocks[stage][block].Layers)
                    layer.DropPath = schedule[stage][block];
    }

    /// <summary>Drops the eval-mode caches derived from weights; the checkpoint loaders call it after changing weights in place.</summary>
    public void InvalidateCaches()
    {
        foreach (var (_, module) in named_modules())
        {
            if (module is CascadedGroupAttention attention)
                attention.InvalidateCache();
        }
    }

    /// <summary>
    /// The input side the network runs at: <see cref="EfficientVitConfig.ImageSize"/>, or the smaller side set with
    /// <see cref="SetInputSize"/>.
    /// </summary>
    public int InputSize => inputSize ?? Config.ImageSize;

    /// <summary>
    /// Runs the network on smaller images than it was built for, with the same parameters: the early epochs of a
    /// low-to-high resolution schedule (<see cref="Training.TrainingRecipe.StartImageSize"/>). An attention whose
    /// map becomes smaller than its window uses the biases of the offsets that map has, exactly what a network
    /// built at <paramref name="imageSize"/> with <see cref="AttentionBiasResampling.Extend"/> tables computes;
    /// every gradient reaches the full-size tables. <see cref="EfficientVitConfig.ImageSize"/> (and so export,
    /// checkpoints and fusing) is unchanged; set it back to <see cref="EfficientVitConfig.ImageSize"/> to run at full size.
    /// </summary>
    /// <param name="imageSize">A multiple of 16, from 32 up to <see cref="EfficientVitConfig.ImageSize"/>.</param>
    public void SetInputSize(int imageSize)
    {
        if (!EfficientVitConfig.IsResizableImageSize(imageSize) || imageSize > Config.ImageSize)
            throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize,
                $"the input size must be a multiple of 16 from 32 up to the {Config.ImageSize} this network was built for.");
        inputSize = imageSize == Config.ImageSize ? null : imageSize;
    }

    private void CheckInput(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != 3)
            throw new ArgumentException($"EfficientViT expects images shaped (batch, 3, {InputSize}, {InputSize}); found ({string.Join(", ", x.shape)}).");
        if (x.shape[2] != InputSize || x.shape[3] != InputSize)
        {
            var setting = inputSize is null ? "" : $" (set with SetInputSize; it was built for {Config.ImageSize}x{Config.ImageSize})";
            throw new ArgumentException($"This EfficientViT runs at {InputSize}x{InputSize} inputs{setting} (its attention biases depend on the map size); found {x.shape[2]}x{x.shape[3]}.");
        }
    }

    private static Sequential DownsamplePair(int dim) =>
        nn.Sequential(("0", EfficientVitBlock.DepthwiseResidual(dim, bnWeightInit: 1)), ("1", new Residual(new FeedForward(dim, 2 * dim))));

    // Stochastic depth grows linearly from 0 at the first block to DropPathRate at the last.
    private static double[][] DropPathSchedule(EfficientVitConfig config)
    {
        var total = config.Depths.Sum();
        var index = 0;
        return config.Depths
            .Select(depth => Enumerable.Range(0, depth).Select(_ => total > 1 ? config.DropPathRate * index++ / (total - 1) : 0.0).ToArray())
            .ToArray();
    }
}
