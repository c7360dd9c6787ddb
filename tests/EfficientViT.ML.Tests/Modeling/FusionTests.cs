using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Modeling;

public class FusionTests
{
    [Theory]
    [InlineData(EfficientVitVariant.M0, 224)]
    [InlineData(EfficientVitVariant.M2, 160)]
    public void Fused_model_equals_the_unfused_model_with_random_statistics(EfficientVitVariant variant, int imageSize)
    {
        using var model = EfficientVit.Create(variant, imageSize, numClasses: 10, distillation: true);
        RandomWeights.Apply(model);
        model.eval();
        using var scope = NewDisposeScope();
        var x = randn(2, 3, imageSize, imageSize, generator: new Generator(1));
        var logits = model.forward(x);
        var features = model.PooledFeatures(x);

        model.FuseBatchNorm();

        Assert.DoesNotContain(model.named_modules(), m => m.module is TorchSharp.Modules.BatchNorm2d or TorchSharp.Modules.BatchNorm1d);
        Assert.True(TestFiles.MaxAbsDiff(logits, model.forward(x)) <= 1e-4f);
        Assert.True(TestFiles.MaxAbsDiff(features, model.PooledFeatures(x)) <= 1e-4f);
    }

    [Fact]
    public void Conv_bn_fusion_matches_the_formula()
    {
        using var convBn = new Conv2dBN(4, 6, kernelSize: 3, padding: 1);
        RandomWeights.Apply(convBn);
        convBn.eval();
        using var scope = NewDisposeScope();
        var weights = convBn.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        convBn.FuseBatchNorm();

        var scale = weights["bn.weight"] / (weights["bn.running_var"] + 1e-5).sqrt();
        Assert.True(TestFiles.MaxAbsDiff(weights["c.weight"] * scale.view(-1, 1, 1, 1), convBn.Conv.weight) < 1e-6f);
        Assert.True(TestFiles.MaxAbsDiff(weights["bn.bias"] - weights["bn.running_mean"] * scale, convBn.Conv.bias!) < 1e-6f);
        Assert.Equal(new[] { "c.weight", "c.bias" }.Order(), convBn.state_dict().Keys.Order());
    }

    [Fact]
    public void A_fused_model_refuses_training()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, numClasses: 2);
        model.FuseBatchNorm();
        var error = Assert.Throws<InvalidOperationException>(() => model.train());
        Assert.Contains("fused", error.Message);
    }
}
