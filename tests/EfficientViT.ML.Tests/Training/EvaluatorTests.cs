using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Training;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Training;

[Collection(TorchGlobalStateCollection.Name)]
public class EvaluatorTests
{
    private const int Side = 12, Count = 20, Size = 32;

    // With symmetric, each row is its own mirror image; with mirrored, every image is mirrored.
    private static FashionMnistDataset Images(int seed, bool symmetric = false, bool mirrored = false)
    {
        // A left-to-right ramp plus noise: far from mirror symmetric, unless made so below.
        var random = new Random(seed);
        var pixels = new byte[Count * Side * Side];
        for (var i = 0; i < pixels.Length; i++)
            pixels[i] = (byte)(i % Side * 18 + random.Next(40));
        var labels = Enumerable.Range(0, Count).Select(i => (byte)(i % 10)).ToArray();
        for (var i = 0; i < Count; i++)
            for (var y = 0; y < Side; y++)
                for (var x = 0; x < Side / 2; x++)
                {
                    var (left, right) = ((i * Side + y) * Side + x, (i * Side + y) * Side + Side - 1 - x);
                    if (symmetric)
                        pixels[right] = pixels[left];
                    else if (mirrored)
                        (pixels[left], pixels[right]) = (pixels[right], pixels[left]);
                }
        return FashionMnistDataset.FromArrays(pixels, labels, Count, Side, Side);
    }

    // A network barely depends on its input at initialisation; a few steps teach it to tell a ramp rising
    // to the right (class 0) from one rising to the left (class 1), so that mirroring matters to it.
    private static readonly Lazy<EfficientVit> Trained = new(Train);

    private static EfficientVit Train()
    {
        manual_seed(4);
        var model = EfficientVit.Create(EfficientVitVariant.M0, Size, numClasses: 10);
        using var scope = NewDisposeScope();
        var ramp = linspace(-1.5, 1.5, Size).view(1, 1, 1, Size);
        var images = cat([ramp + randn(8, 3, Size, Size) * 0.3, ramp.flip(3) + randn(8, 3, Size, Size) * 0.3]);
        var labels = cat([zeros(8, ScalarType.Int64), ones(8, ScalarType.Int64)]);
        var optimizer = optim.AdamW(model.parameters(), lr: 2e-3);
        model.train();
        for (var step = 0; step < 20; step++)
        {
            optimizer.zero_grad();
            nn.functional.cross_entropy(model.forward(images), labels).backward();
            optimizer.step();
        }
        model.eval();
        return model;
    }

    private static (ClassificationMetrics Metrics, double Loss) Evaluate(EfficientVit model, IImageDataset data, bool flip) =>
        Evaluator.Evaluate(model, data, ImageTransform.FashionMnist(Size, train: false), batchSize: 8, workers: 1, flipAverage: flip);

    [Fact]
    public void Flip_averaging_changes_nothing_on_mirror_symmetric_images()
    {
        var model = Trained.Value;
        var data = Images(seed: 1, symmetric: true);

        var (plain, plainLoss) = Evaluate(model, data, flip: false);
        var (flipped, flippedLoss) = Evaluate(model, data, flip: true);

        Assert.Equal(plain.Top1Accuracy, flipped.Top1Accuracy);
        Assert.Equal(plainLoss, flippedLoss, 4);
    }

    [Fact]
    public void Flip_averaging_is_blind_to_mirroring_and_never_loses_to_the_mean_of_both_views()
    {
        var model = Trained.Value;
        var data = Images(seed: 2);
        var mirrored = Images(seed: 2, mirrored: true);

        var (_, plainLoss) = Evaluate(model, data, flip: false);
        var (_, mirroredLoss) = Evaluate(model, mirrored, flip: false);
        var (flipped, flippedLoss) = Evaluate(model, data, flip: true);
        var (flippedMirrored, flippedMirroredLoss) = Evaluate(model, mirrored, flip: true);

        // The two views score differently, so the test can tell averaging from a single view.
        Assert.True(Math.Abs(plainLoss - mirroredLoss) > 1e-3, $"{plainLoss} vs {mirroredLoss}");
        Assert.Equal(flippedLoss, flippedMirroredLoss, 4);
        Assert.Equal(flipped.Top1Accuracy, flippedMirrored.Top1Accuracy);
        // −log of the mean probability is at most the mean of the two −log probabilities (convexity).
        Assert.True(flippedLoss <= (plainLoss + mirroredLoss) / 2 + 1e-6, $"{flippedLoss} vs {(plainLoss + mirroredLoss) / 2}");
        Assert.True(flippedLoss < Math.Max(plainLoss, mirroredLoss));
    }
}
