using EfficientViT.ML.Modeling;

namespace EfficientViT.ML.Tests.Modeling;

public class ParameterCountTests
{
    // Trainable parameters of the official models (1000 classes, no distillation head).
    [Theory]
    [InlineData(EfficientVitVariant.M0, 2_349_436)]
    [InlineData(EfficientVitVariant.M1, 2_980_560)]
    [InlineData(EfficientVitVariant.M2, 4_187_554)]
    [InlineData(EfficientVitVariant.M3, 6_900_722)]
    [InlineData(EfficientVitVariant.M4, 8_804_228)]
    [InlineData(EfficientVitVariant.M5, 12_473_772)]
    public void Matches_the_official_count(EfficientVitVariant variant, long expected)
    {
        using var model = EfficientVit.Create(variant);
        Assert.Equal(expected, CountTrainable(model));
    }

    [Theory]
    [InlineData(EfficientVitVariant.M0, 2_334_916)]
    [InlineData(EfficientVitVariant.M4, 8_776_340)]
    public void Matches_the_official_count_after_fusion(EfficientVitVariant variant, long expected)
    {
        using var model = EfficientVit.Create(variant);
        model.FuseBatchNorm();
        Assert.Equal(expected, CountTrainable(model));
    }

    [Fact]
    public void Distillation_head_adds_one_more_classifier()
    {
        using var plain = EfficientVit.Create(EfficientVitVariant.M0);
        using var distilled = EfficientVit.Create(EfficientVitVariant.M0, distillation: true);
        var head = 2 * 192 + 192 * 1000 + 1000;
        Assert.Equal(CountTrainable(plain) + head, CountTrainable(distilled));
    }

    internal static long CountTrainable(EfficientVit model) =>
        model.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
}
