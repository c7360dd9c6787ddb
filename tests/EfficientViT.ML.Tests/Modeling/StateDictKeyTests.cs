using EfficientViT.ML.Modeling;

namespace EfficientViT.ML.Tests.Modeling;

public class StateDictKeyTests
{
    // The golden lists come from Fixtures/golden/make_golden_keys.py, written from the architecture
    // description; for M0 it reproduces the official implementation's list exactly.
    [Theory]
    [InlineData(EfficientVitVariant.M0, "keys_m0.txt")]
    [InlineData(EfficientVitVariant.M4, "keys_m4.txt")]
    public void Keys_and_shapes_match_the_golden_list(EfficientVitVariant variant, string golden)
    {
        var expected = TestFiles.ReadKeyList(TestFiles.Fixture("golden", golden));
        using var model = EfficientVit.Create(variant);
        var actual = model.state_dict();

        // TorchSharp lists a module's parameters before its buffers, so the order differs from
        // PyTorch's; loading goes by name, so the set of names and their shapes is what must agree.
        Assert.Equal(699, expected.Count);
        Assert.Equal(expected.Count, actual.Count);
        Assert.Equal(expected.Select(e => e.Key).Order(), actual.Keys.Order());
        foreach (var (key, shape) in expected)
            Assert.True(shape.SequenceEqual(actual[key].shape), $"{key}: expected ({string.Join(", ", shape)}), found ({string.Join(", ", actual[key].shape)})");
    }

    [Fact]
    public void The_official_m0_list_equals_the_golden_generator_output()
    {
        Assert.Equal(
            File.ReadAllLines(TestFiles.OfficialM0("keys_m0.txt")),
            File.ReadAllLines(TestFiles.Fixture("golden", "keys_m0.txt")));
    }

    [Fact]
    public void No_weight_decay_covers_attention_biases_biases_and_norms_but_not_conv_weights()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0);
        var names = model.NoWeightDecayParameterNames();
        Assert.Contains("blocks1.0.mixer.m.attn.attention_biases", names);
        Assert.Contains("head.l.bias", names);
        Assert.Contains("patch_embed.0.bn.weight", names);
        Assert.DoesNotContain("patch_embed.0.c.weight", names);
        Assert.DoesNotContain("head.l.weight", names);
        Assert.DoesNotContain(names, n => n.Contains("running_", StringComparison.Ordinal));
    }
}
