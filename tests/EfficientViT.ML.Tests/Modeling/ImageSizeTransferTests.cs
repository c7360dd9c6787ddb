using EfficientViT.ML.Modeling;
using EfficientViT.ML.Tests.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Modeling;

[Collection(TorchGlobalStateCollection.Name)]
public class ImageSizeTransferTests
{
    // A depthwise 3x3 convolution of stage 3, which runs on that stage's feature map.
    private const string Stage3Depthwise = "blocks3.2.0.m.c.weight";

    [Theory]
    [InlineData(64, false)]
    [InlineData(80, true)]
    public void On_a_1x1_map_only_the_centre_of_a_depthwise_kernel_gets_a_gradient(int imageSize, bool offCentreTrains)
    {
        manual_seed(5);
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize, numClasses: 10);
        model.train();
        using var scope = NewDisposeScope();
        var input = randn(4, 3, imageSize, imageSize);
        nn.functional.cross_entropy(model.forward(input), tensor(new long[] { 0, 1, 2, 3 })).backward();

        var gradient = model.named_parameters().Single(p => p.name == Stage3Depthwise).parameter.grad!;
        var centre = gradient[.., .., 1, 1].abs().max().item<float>();
        var offCentre = (gradient.abs().sum(dim: 1).sum(dim: 0) * tensor(new float[] { 1, 1, 1, 1, 0, 1, 1, 1, 1 }).reshape(3, 3)).max().item<float>();
        Assert.True(centre > 0, $"centre gradient {centre}");
        Assert.Equal(offCentreTrains, offCentre > 0);
    }

    [Theory]
    [InlineData(64, 80, 3, 2)]
    [InlineData(64, 112, 3, 2)]
    [InlineData(48, 224, 3, 4)]
    public void Moving_a_model_trained_with_1x1_maps_to_a_larger_size_is_warned_about(int trainedSize, int newSize, int stage, int newSide)
    {
        var warning = ImageSizeTransfer.UntrainedWeightsWarning(EfficientVitConfig.For(EfficientVitVariant.M0, trainedSize, 10), newSize);
        Assert.NotNull(warning);
        Assert.Contains($"stage {stage} (blocks{stage}) had 1x1 feature maps", warning);
        Assert.Contains($"its maps are {newSide}x{newSide}", warning);
    }

    [Theory]
    [InlineData(64, 64)]
    [InlineData(64, 32)]
    [InlineData(96, 224)]
    [InlineData(224, 384)]
    public void Sizes_whose_maps_were_at_least_2x2_in_training_are_not_warned_about(int trainedSize, int newSize) =>
        Assert.Null(ImageSizeTransfer.UntrainedWeightsWarning(EfficientVitConfig.For(EfficientVitVariant.M0, trainedSize, 10), newSize));
}
