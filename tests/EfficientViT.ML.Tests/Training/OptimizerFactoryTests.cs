using EfficientViT.ML.Modeling;
using EfficientViT.ML.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Training;

public class OptimizerFactoryTests
{
    private const string FrozenName = "patch_embed.0.c.weight";

    private static OptimizerGroup GroupOf(AdamWWithGroups optimizer, string parameterName) =>
        Assert.Single(optimizer.Groups, group => group.ParameterNames.Contains(parameterName));

    [Fact]
    public void Parameters_are_split_into_decay_and_no_decay_groups()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 64, numClasses: 10);
        var recipe = TrainingRecipe.Official with { BatchSize = 256 };
        using var optimizer = OptimizerFactory.CreateAdamW(model, recipe);

        Assert.IsType<ScalarSafeAdamW>(optimizer.Optimizer);
        Assert.Equal(new[] { "decay", "no_decay" }, optimizer.Groups.Select(g => g.Name));
        var names = model.named_parameters().Select(p => p.name).ToList();
        var attentionBias = names.First(n => n.EndsWith("attention_biases", StringComparison.Ordinal));
        Assert.Equal("no_decay", GroupOf(optimizer, attentionBias).Name);
        Assert.Equal("no_decay", GroupOf(optimizer, "head.l.bias").Name);
        Assert.Equal("no_decay", GroupOf(optimizer, "patch_embed.0.bn.weight").Name);
        Assert.Equal("decay", GroupOf(optimizer, "patch_embed.0.c.weight").Name);
        Assert.Equal("decay", GroupOf(optimizer, "head.l.weight").Name);
        // Every parameter is in exactly one group, and the no-decay group is the model's no-decay set.
        Assert.Equal(names.OrderBy(n => n), optimizer.Groups.SelectMany(g => g.ParameterNames).OrderBy(n => n));
        Assert.Equal(model.NoWeightDecayParameterNames().OrderBy(n => n), GroupOf(optimizer, "head.l.bias").ParameterNames.OrderBy(n => n));

        // The optimizer's own groups carry the same settings, in the same order.
        var groups = optimizer.Optimizer.ParamGroups.Cast<TorchSharp.Modules.AdamW.ParamGroup>().ToList();
        Assert.Equal(2, groups.Count);
        Assert.Equal(0.025, groups[0].Options.weight_decay);
        Assert.Equal(0.0, groups[1].Options.weight_decay);
        Assert.All(groups, g => Assert.Equal(5e-4, g.LearningRate, 15)); // 1e-3 * 256 / 512
        Assert.All(groups, g => Assert.Equal(1e-8, g.Options.eps));
        Assert.Equal(optimizer.Groups[0].ParameterNames.Count, groups[0].Parameters.Count());
    }

    [Fact]
    public void Frozen_parameters_are_left_out_and_the_backbone_gets_its_own_rate()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 64, numClasses: 10);
        model.named_parameters().Single(p => p.name == FrozenName).parameter.requires_grad = false;
        var recipe = TrainingRecipe.Official with { BatchSize = 512 };

        using var optimizer = OptimizerFactory.CreateAdamW(model, recipe, OptimizerFactory.IsBackboneParameter, backboneLearningRateScale: 0.1);

        Assert.Equal(new[] { "decay", "no_decay", "backbone_decay", "backbone_no_decay" }, optimizer.Groups.Select(g => g.Name));
        Assert.DoesNotContain(optimizer.Groups, g => g.ParameterNames.Contains(FrozenName));
        Assert.Equal("decay", GroupOf(optimizer, "head.l.weight").Name);
        Assert.Equal("no_decay", GroupOf(optimizer, "head.bn.bias").Name);
        Assert.Equal("backbone_decay", GroupOf(optimizer, "patch_embed.2.c.weight").Name);
        var attentionBias = model.named_parameters().Select(p => p.name).First(n => n.EndsWith("attention_biases", StringComparison.Ordinal));
        Assert.Equal("backbone_no_decay", GroupOf(optimizer, attentionBias).Name);
        Assert.Equal(new[] { 1.0, 1.0, 0.1, 0.1 }, optimizer.LearningRateScales);

        var rates = optimizer.Optimizer.ParamGroups.Select(g => g.LearningRate).ToArray();
        Assert.Equal(new[] { 1e-3, 1e-3, 1e-4, 1e-4 }, rates, new Tolerance(1e-15));

        optimizer.SetLearningRate(2e-3);
        rates = optimizer.Optimizer.ParamGroups.Select(g => g.LearningRate).ToArray();
        Assert.Equal(new[] { 2e-3, 2e-3, 2e-4, 2e-4 }, rates, new Tolerance(1e-15));
    }

    [Fact]
    public void A_fully_frozen_model_is_rejected()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 32, numClasses: 3);
        foreach (var parameter in model.parameters())
            parameter.requires_grad = false;
        Assert.Throws<ArgumentException>(() => OptimizerFactory.CreateAdamW(model, TrainingRecipe.Official));
    }

    private sealed class Tolerance(double epsilon) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= epsilon;
        public int GetHashCode(double obj) => 0;
    }
}
