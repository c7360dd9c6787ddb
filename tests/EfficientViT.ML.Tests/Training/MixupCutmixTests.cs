using EfficientViT.ML.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Training;

public class MixupCutmixTests
{
    private const int Classes = 5;

    private static Tensor Images(int batch = 4, int size = 8, long seed = 1) =>
        rand(new long[] { batch, 3, size, size }, generator: new Generator((ulong)seed));

    private static Tensor Labels(params long[] labels) => tensor(labels);

    [Fact]
    public void Targets_are_distributions_for_every_kind_of_batch()
    {
        using var scope = NewDisposeScope();
        var mixer = new MixupCutmix(Classes);
        var images = Images();
        var labels = Labels(0, 1, 2, 4);
        for (var seed = 0; seed < 40; seed++)
        {
            var (mixed, targets) = mixer.Apply(images, labels, new Random(seed));
            Assert.Equal(images.shape, mixed.shape);
            Assert.Equal(new long[] { 4, Classes }, targets.shape);
            var sums = targets.sum(1).data<float>().ToArray();
            Assert.All(sums, sum => Assert.Equal(1f, sum, 5));
            Assert.True(targets.min().ToSingle() >= 0);
        }
    }

    [Fact]
    public void Mixup_with_a_given_lambda_matches_the_hand_computation()
    {
        using var scope = NewDisposeScope();
        var mixer = new MixupCutmix(numClasses: 3, labelSmoothing: 0.1);
        var images = Images(batch: 2, size: 2);
        var labels = Labels(0, 2);

        var (mixed, targets, lambda, box) = mixer.Mix(images, labels, 0.3, useCutmix: false, new Random(0));

        Assert.Equal(0.3, lambda);
        Assert.Null(box);
        // Image i is mixed with image B-1-i (the batch reversed).
        var x = images.data<float>().ToArray();
        var m = mixed.data<float>().ToArray();
        var perImage = x.Length / 2;
        for (var k = 0; k < perImage; k++)
        {
            Assert.Equal(0.3f * x[k] + 0.7f * x[perImage + k], m[k], 5);
            Assert.Equal(0.3f * x[perImage + k] + 0.7f * x[k], m[perImage + k], 5);
        }

        // off = 0.1/3, on = 0.9 + 0.1/3; row 0 = 0.3 one-hot(0) + 0.7 one-hot(2), row 1 the reverse.
        const double off = 0.1 / 3, on = 0.9 + 0.1 / 3;
        var expected = new[]
        {
            0.3 * on + 0.7 * off, off, 0.3 * off + 0.7 * on,
            0.3 * off + 0.7 * on, off, 0.3 * on + 0.7 * off,
        };
        var actual = targets.data<float>().ToArray();
        for (var k = 0; k < expected.Length; k++)
            Assert.Equal(expected[k], actual[k], 5);
    }

    [Fact]
    public void Cutmix_pastes_the_partner_box_and_corrects_lambda_to_its_area()
    {
        using var scope = NewDisposeScope();
        var mixer = new MixupCutmix(Classes);
        var images = Images(batch: 3, size: 16);
        var labels = Labels(0, 3, 4);
        var sawClippedBox = false;
        for (var seed = 0; seed < 20; seed++)
        {
            var (mixed, targets, lambda, box) = mixer.Mix(images, labels, 0.6, useCutmix: true, new Random(seed));
            var b = box!.Value;
            Assert.Equal(1 - b.Area / 256.0, lambda, 12);
            sawClippedBox |= b.Area < (int)(16 * Math.Sqrt(0.4)) * (int)(16 * Math.Sqrt(0.4));

            var original = images.data<float>().ToArray();
            var result = mixed.data<float>().ToArray();
            for (var n = 0; n < 3; n++)
            for (var c = 0; c < 3; c++)
            for (var y = 0; y < 16; y++)
            for (var x = 0; x < 16; x++)
            {
                var inside = y >= b.Top && y < b.Bottom && x >= b.Left && x < b.Right;
                var source = inside ? 2 - n : n; // the box comes from the reversed batch
                Assert.Equal(original[((source * 3 + c) * 16 + y) * 16 + x], result[((n * 3 + c) * 16 + y) * 16 + x]);
            }

            // The true class keeps lambda of the "on" mass, the partner's class gets the rest.
            var t = targets.data<float>().ToArray();
            const double off = 0.1 / Classes, on = 0.9 + off;
            Assert.Equal(lambda * on + (1 - lambda) * off, t[0 * Classes + 0], 5); // image 0 (class 0) with image 2 (class 4)
            Assert.Equal(lambda * off + (1 - lambda) * on, t[0 * Classes + 4], 5);
            Assert.Equal(on, t[1 * Classes + 3], 5); // the middle image is paired with itself
        }
        Assert.True(sawClippedBox, "expected at least one box clipped at the border among the seeds");
    }

    [Fact]
    public void The_inputs_are_not_changed()
    {
        using var scope = NewDisposeScope();
        var images = Images();
        var copy = images.clone();
        var labels = Labels(0, 1, 2, 3);
        var mixer = new MixupCutmix(Classes);
        for (var seed = 0; seed < 10; seed++)
            mixer.Apply(images, labels, new Random(seed));
        Assert.True(images.eq(copy).all().ToBoolean());
    }

    [Fact]
    public void Same_seed_gives_the_same_batch()
    {
        using var scope = NewDisposeScope();
        var mixer = new MixupCutmix(Classes);
        var images = Images();
        var labels = Labels(0, 1, 2, 3);
        for (var seed = 0; seed < 10; seed++)
        {
            var (imagesA, targetsA) = mixer.Apply(images, labels, new Random(seed));
            var (imagesB, targetsB) = mixer.Apply(images, labels, new Random(seed));
            Assert.True(imagesA.eq(imagesB).all().ToBoolean());
            Assert.True(targetsA.eq(targetsB).all().ToBoolean());
        }
    }

    [Fact]
    public void Probability_and_switch_probability_are_honoured()
    {
        var random = new Random(3);
        var both = new MixupCutmix(Classes);
        var decisions = Enumerable.Range(0, 4000).Select(_ => both.Decide(random)).ToList();
        Assert.All(decisions, d => Assert.InRange(d.Lambda, 0, 1));
        Assert.InRange(decisions.Count(d => d.UseCutmix) / 4000.0, 0.46, 0.54);

        var never = new MixupCutmix(Classes, probability: 0);
        Assert.All(Enumerable.Range(0, 100), _ => Assert.Equal((1.0, false), never.Decide(random)));

        var cutmixOnly = new MixupCutmix(Classes, mixupAlpha: 0);
        Assert.All(Enumerable.Range(0, 100), _ => Assert.True(cutmixOnly.Decide(random).UseCutmix));

        var mixupOnly = new MixupCutmix(Classes, cutmixAlpha: 0);
        Assert.All(Enumerable.Range(0, 100), _ => Assert.False(mixupOnly.Decide(random).UseCutmix));
    }

    [Fact]
    public void An_unmixed_batch_has_smoothed_one_hot_targets()
    {
        using var scope = NewDisposeScope();
        var mixer = new MixupCutmix(numClasses: 4, probability: 0, labelSmoothing: 0.2);
        var images = Images();
        var (mixed, targets) = mixer.Apply(images, Labels(1, 0, 3, 2), new Random(0));
        Assert.True(mixed.eq(images).all().ToBoolean());
        var t = targets.data<float>().ToArray();
        Assert.Equal(0.85f, t[1], 6); // 1 - 0.2 + 0.05
        Assert.Equal(0.05f, t[0], 6);
    }

    [Theory]
    [InlineData(0.8, 0.8)]
    [InlineData(1.0, 1.0)]
    [InlineData(2.0, 5.0)]
    [InlineData(0.2, 0.3)]
    public void Beta_sampler_has_the_right_mean_and_variance(double a, double b)
    {
        var random = new Random(11);
        const int n = 40_000;
        var samples = Enumerable.Range(0, n).Select(_ => BetaDistribution.Sample(random, a, b)).ToArray();
        var mean = samples.Average();
        var variance = samples.Select(s => (s - mean) * (s - mean)).Average();
        Assert.All(samples, s => Assert.InRange(s, 0, 1));
        Assert.Equal(a / (a + b), mean, 2);
        Assert.Equal(a * b / ((a + b) * (a + b) * (a + b + 1)), variance, 2);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(3.0)]
    public void Gamma_sampler_has_the_right_mean_and_variance(double shape)
    {
        var random = new Random(5);
        var samples = Enumerable.Range(0, 40_000).Select(_ => BetaDistribution.Gamma(random, shape)).ToArray();
        var mean = samples.Average();
        var variance = samples.Select(s => (s - mean) * (s - mean)).Average();
        Assert.InRange(mean, shape * 0.97, shape * 1.03);
        Assert.InRange(variance, shape * 0.94, shape * 1.06);
    }
}
