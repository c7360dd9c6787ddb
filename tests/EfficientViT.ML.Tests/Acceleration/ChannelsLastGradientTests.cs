using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Modeling;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Acceleration;

public class ChannelsLastGradientTests
{
    // The cascaded attention's keys: a channel slice of the channels-last query-key-value map, read as (pixels,
    // channels) rows and transposed into a matrix product. Unmarked, the keys' gradient comes back NCHW and the
    // split's backward joins the map's whole gradient NCHW (the case the mark exists for); marked, the map's
    // gradient comes back channels-last with the same values.
    [Fact]
    public void A_map_whose_keys_are_read_as_transposed_rows_gets_its_gradient_back_channels_last_and_unchanged()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(31);
        var queryKeyValue = ChannelsLast.Of(randn(4, 48, 7, 7, generator: generator));
        var upstream = randn(4, 49, 16, generator: generator);

        var (plain, plainLayout) = Gradient(marked: false);
        var (marked, markedLayout) = Gradient(marked: true);

        Assert.False(plainLayout, "the unmarked gradient already arrives channels-last, so this test cannot tell");
        Assert.True(markedLayout, "the marked map's gradient did not arrive channels-last");
        Assert.Equal(0f, TestFiles.MaxAbsDiff(plain, marked));
        Assert.True(plain.abs().max().item<float>() > 0.1f, "the gradient is not trivially zero");

        // The layout is read where the gradient arrives at the map: a leaf's accumulated gradient takes the
        // leaf's own layout whatever arrives, so the leaf cannot show it.
        (Tensor Gradient, bool ArrivedChannelsLast) Gradient(bool marked)
        {
            var input = queryKeyValue.detach().clone().requires_grad_();
            var arrivedChannelsLast = false;
            var parts = Witness(input, layout => arrivedChannelsLast = layout).split([16, 16, 16], dim: 1);
            var keys = marked ? ChannelsLastGradient.Mark(parts[1]) : parts[1];
            var scores = Rows(parts[0]).matmul(Rows(keys).transpose(-2, -1)).softmax(-1);
            (scores.matmul(Rows(parts[2])) * upstream).sum().backward();
            return (input.grad!, arrivedChannelsLast);
        }

        static Tensor Rows(Tensor map) => map.permute(0, 2, 3, 1).reshape(map.shape[0], -1, map.shape[1]);
    }

    // The global average pooling before the head broadcasts one gradient value per channel back over the map.
    [Fact]
    public void A_pooled_map_gets_its_gradient_back_channels_last_and_unchanged()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(32);
        var features = ChannelsLast.Of(randn(4, 24, 2, 2, generator: generator));
        var upstream = randn(4, 24, generator: generator);

        var (plain, plainLayout) = Gradient(marked: false);
        var (marked, markedLayout) = Gradient(marked: true);

        Assert.False(plainLayout, "the unmarked gradient already arrives channels-last, so this test cannot tell");
        Assert.True(markedLayout, "the marked map's gradient did not arrive channels-last");
        Assert.Equal(0f, TestFiles.MaxAbsDiff(plain, marked));
        Assert.True(TestFiles.MaxAbsDiff(marked, (upstream / 4).view(4, 24, 1, 1).expand(4, 24, 2, 2)) < 1e-7f, "a quarter of the upstream gradient on each of the four pixels");

        (Tensor Gradient, bool ArrivedChannelsLast) Gradient(bool marked)
        {
            var input = features.detach().clone().requires_grad_();
            var arrivedChannelsLast = false;
            var map = Witness(input, layout => arrivedChannelsLast = layout);
            map = marked ? ChannelsLastGradient.Mark(map) : map;
            (nn.functional.adaptive_avg_pool2d(map, 1).flatten(1) * upstream).sum().backward();
            return (input.grad!, arrivedChannelsLast);
        }
    }

    [Fact]
    public void Without_a_gradient_to_track_the_map_passes_through_unwrapped()
    {
        using var scope = NewDisposeScope();
        var map = ChannelsLast.Of(randn(2, 4, 3, 3));
        Assert.Same(map, ChannelsLastGradient.Mark(map));
        using (no_grad())
        {
            var tracked = map.detach().requires_grad_();
            Assert.Same(tracked, ChannelsLastGradient.Mark(tracked));
        }
    }

    // x unchanged; tells whether the gradient reaching it is stored channels-last.
    private static Tensor Witness(Tensor x, Action<bool> arrivedChannelsLast) => BackwardHook.Mark(x, gradient =>
    {
        arrivedChannelsLast(ChannelsLast.Is(gradient));
        return gradient;
    });
}
