using EfficientViT.ML.Modeling;
using TorchSharp;
using TorchSharp.Modules;

namespace EfficientViT.ML.Training;

/// <summary>Builds the recipe's optimizer with the official parameter groups.</summary>
internal static class OptimizerFactory
{
    /// <summary>
    /// The default backbone test for fine-tuning: every parameter outside the classifier heads
    /// (<c>head</c> and <c>head_dist</c>).
    /// </summary>
    public static bool IsBackboneParameter(string name) => !name.StartsWith("head", StringComparison.Ordinal);

    /// <summary>
    /// AdamW over the trainable parameters of <paramref name="model"/>, split as the official recipe
    /// does (timm's weight-decay groups): the parameters named by
    /// <see cref="EfficientVit.NoWeightDecayParameterNames"/> take no weight decay, the others take
    /// <see cref="TrainingRecipe.WeightDecay"/>. With <paramref name="isBackbone"/>, backbone
    /// parameters go into their own groups whose rate is scaled by <paramref name="backboneLearningRateScale"/>.
    /// Frozen parameters (<c>requires_grad</c> false) are left out. Empty groups are not created.
    /// </summary>
    /// <param name="model">The model to train.</param>
    /// <param name="recipe">Supplies the rate (<see cref="TrainingRecipe.ScaledLearningRate"/>), weight decay, epsilon and betas.</param>
    /// <param name="isBackbone">Tells backbone parameters by name, e.g. <see cref="IsBackboneParameter"/>; null puts every parameter in the head groups.</param>
    /// <param name="backboneLearningRateScale">Multiplier of the backbone groups' rate (for example 0.1 when fine-tuning).</param>
    /// <param name="flat">
    /// Whether the parameters, their gradients and the optimizer's moments move into one buffer each, so that
    /// a step (and <see cref="AdamWWithGroups.ClipGradients"/>) is a few native calls per group instead of
    /// several per tensor. Lay the weights out (channels-last) before: the buffer keeps the layout it finds.
    /// </param>
    public static AdamWWithGroups CreateAdamW(EfficientVit model, TrainingRecipe recipe, Func<string, bool>? isBackbone = null, double backboneLearningRateScale = 1.0, bool flat = true)
    {
        if (backboneLearningRateScale < 0)
            throw new ArgumentOutOfRangeException(nameof(backboneLearningRateScale), backboneLearningRateScale, "The backbone learning rate scale must not be negative.");

        var noDecay = model.NoWeightDecayParameterNames();
        var members = new Dictionary<string, List<(string Name, Parameter Parameter)>>();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (!parameter.requires_grad)
                continue;
            var backbone = isBackbone is not null && isBackbone(name);
            var groupName = (backbone ? "backbone_" : "") + (noDecay.Contains(name) ? "no_decay" : "decay");
            if (!members.TryGetValue(groupName, out var list))
                members[groupName] = list = new List<(string, Parameter)>();
            list.Add((name, parameter));
        }
        if (members.Count == 0)
            throw new ArgumentException("The model has no trainable parameters (all have requires_grad = false).", nameof(model));

        var learningRate = recipe.ScaledLearningRate();
        var groups = new List<OptimizerGroup>();
        var paramGroups = new List<AdamW.ParamGroup>();
        // A fixed order, so that group indices (and saved optimizer states) do not depend on which parameter comes first.
        foreach (var groupName in new[] { "decay", "no_decay", "backbone_decay", "backbone_no_decay" })
        {
            if (!members.TryGetValue(groupName, out var list))
                continue;
            var weightDecay = groupName.EndsWith("no_decay", StringComparison.Ordinal) ? 0.0 : recipe.WeightDecay;
            var scale = groupName.StartsWith("backbone_", StringComparison.Ordinal) ? backboneLearningRateScale : 1.0;
            groups.Add(new OptimizerGroup(groupName, list.Select(member => member.Name).ToArray(), weightDecay, scale));
            paramGroups.Add(new AdamW.ParamGroup(
                list.Select(member => member.Parameter).ToList(),
                lr: learningRate * scale, beta1: recipe.AdamBeta1, beta2: recipe.AdamBeta2,
                eps: recipe.AdamEpsilon, weight_decay: weightDecay));
        }

        var optimizer = new ScalarSafeAdamW(paramGroups, learningRate, recipe.AdamBeta1, recipe.AdamBeta2, recipe.AdamEpsilon, recipe.WeightDecay, flat);
        return new AdamWWithGroups(optimizer, groups);
    }
}
