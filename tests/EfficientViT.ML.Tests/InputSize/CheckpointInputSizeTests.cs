using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Modeling;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.InputSize;

public class CheckpointInputSizeTests
{
    private static readonly string OfficialM0 = TestFiles.OfficialM0("efficientvit_m0.pth");

    private static Dictionary<string, float[]> Biases(EfficientVit model) =>
        model.state_dict().Where(kv => kv.Key.EndsWith("attention_biases", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value.data<float>().ToArray());

    [Theory]
    [InlineData(192, new[] { 7, 6, 3 })]
    [InlineData(256, new[] { 7, 7, 4 })]
    [InlineData(384, new[] { 7, 7, 6 })]
    public void The_official_m0_loads_and_runs_at_other_sizes(int size, int[] windows)
    {
        using var original = EfficientVitCheckpoint.Load(OfficialM0);
        using var loaded = EfficientVitCheckpoint.Load(OfficialM0, new CheckpointLoadOptions { ImageSize = size });
        using var scope = NewDisposeScope();

        Assert.Equal(size, loaded.Model.Config.ImageSize);
        Assert.Equal(size, loaded.Metadata.ImageSize);
        Assert.Equal(224, loaded.Metadata.TrainedImageSize);
        var stages = loaded.Model.ForwardStages(randn(1, 3, size, size));
        Assert.Equal(size / 16, stages[0].shape[^1]);
        using (no_grad())
            Assert.Equal([1, 1000], loaded.Model.forward(randn(2, 3, size, size))[..1].shape);
        var before = Biases(original.Model);
        var after = Biases(loaded.Model);
        foreach (var (key, values) in after)
        {
            var stage = int.Parse(key[6..7]) - 1;
            Assert.Equal(4 * windows[stage] * windows[stage], values.Length);
            // Tables whose window does not change are the file's, untouched.
            if (windows[stage] == (int)Math.Sqrt(before[key].Length / 4))
                Assert.Equal(before[key], values);
            else
                Assert.NotEqual(before[key].Length, values.Length);
        }
    }

    [Fact]
    public void Loading_at_256_needs_no_resampling_and_gives_224s_weights()
    {
        using var original = EfficientVitCheckpoint.Load(OfficialM0);
        using var loaded = EfficientVitCheckpoint.Load(OfficialM0, new CheckpointLoadOptions { ImageSize = 256 });
        var expected = original.Model.state_dict();
        foreach (var (key, value) in loaded.Model.state_dict())
            Assert.True(value.eq(expected[key]).all().item<bool>(), key);
    }

    [Fact]
    public void An_official_format_checkpoint_made_at_192_is_detected_as_192()
    {
        using var loaded = EfficientVitCheckpoint.Load(TestFiles.Fixture("sizes", "efficientvit_m0_192.pth"));

        Assert.Equal(192, loaded.Model.Config.ImageSize);
        Assert.Null(loaded.Metadata.TrainedImageSize);
    }

    [Theory]
    [InlineData(160, 160)]
    [InlineData(176, 192)]
    [InlineData(192, 192)]
    [InlineData(224, 224)]
    [InlineData(256, 224)]
    [InlineData(288, 288)]
    [InlineData(384, 384)]
    [InlineData(448, 448)]
    [InlineData(64, 64)]
    public void Detection_takes_the_common_size_among_those_the_tables_fit(int madeAt, int detected)
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M1, madeAt, numClasses: 0);
        var shapes = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);

        Assert.Equal(detected, ArchitectureDetector.Detect(shapes, "m1.pth").ImageSize);
    }

    [Fact]
    public void A_size_that_is_not_a_multiple_of_16_is_refused_naming_the_file()
    {
        var error = Assert.Throws<CheckpointException>(() => EfficientVitCheckpoint.Load(OfficialM0, new CheckpointLoadOptions { ImageSize = 200 }));
        Assert.Contains("efficientvit_m0.pth", error.Message);
        Assert.Contains("multiple of 16", error.Message);
    }
}
