using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Tests.Modeling;
using EfficientViT.ML.Tests.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Acceleration;

[Collection(TorchGlobalStateCollection.Name)]
public class ChannelsLastTests
{
    [Fact]
    public void Of_keeps_the_values_and_lays_them_out_channels_last()
    {
        using var scope = NewDisposeScope();
        var x = randn(2, 5, 3, 4, generator: new Generator(1));
        var laidOut = ChannelsLast.Of(x);
        Assert.False(ChannelsLast.Is(x));
        Assert.True(ChannelsLast.Is(laidOut));
        Assert.Equal(new long[] { 60, 1, 20, 5 }, laidOut.stride());
        Assert.Equal(0f, TestFiles.MaxAbsDiff(x, laidOut));
        Assert.True(ChannelsLast.Is(ChannelsLast.Of(laidOut)));
    }

    // A batch of one stays contiguous (see ChannelsLast.Of: libtorch's gradients were wrong for it).
    [Fact]
    public void A_single_sample_is_left_as_it_is()
    {
        using var scope = NewDisposeScope();
        var x = randn(1, 5, 3, 4, generator: new Generator(1));
        var result = ChannelsLast.Of(x);
        Assert.Equal(x.stride(), result.stride());
        Assert.Equal(0f, TestFiles.MaxAbsDiff(x, result));
    }

    // Convert and Restore change the layout only: the same parameter objects, the same values, and a
    // restored model saves (TorchSharp refuses the bytes of a strided tensor).
    [Fact]
    public void Convert_and_restore_keep_the_parameters_and_their_values()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = EfficientVit.Create(EfficientVitVariant.M0, 32, 10);
        var before = model.state_dict().ToDictionary(pair => pair.Key, pair => pair.Value.clone());
        var parameters = model.parameters().ToList();

        ChannelsLast.Convert(model);
        Assert.Equal(parameters, model.parameters().ToList());
        Assert.All(model.parameters().Where(p => p.dim() == 4), p => Assert.True(ChannelsLast.Is(p)));
        foreach (var (name, value) in model.state_dict())
            Assert.True(value.equal(before[name]).all().item<bool>(), name);

        ChannelsLast.Restore(model);
        Assert.All(model.parameters(), p => Assert.True(p.is_contiguous()));
        foreach (var (name, value) in model.state_dict())
            Assert.True(value.equal(before[name]).all().item<bool>(), name);
        using var stream = new MemoryStream();
        using var writer = new BinaryWriter(stream);
        model.save(writer);
    }

    // The trainer's set-up (channels-last weights and batches, the fast layers) gives the plain contiguous model's
    // loss and gradients as closely as float32 allows: both are compared with the same step in float64, and the
    // error of the set-up (oneDNN's NHWC kernels and the fast layers sum in other orders) must be of the size of
    // the plain model's own error. The model is left as it was: its own layers, contiguous weights.
    [Theory]
    [InlineData(64)]
    [InlineData(112)]
    public void A_channels_last_training_step_matches_the_contiguous_one(int size)
    {
        using var scope = NewDisposeScope();
        manual_seed(9);
        using var exact = EfficientVit.Create(EfficientVitVariant.M0, size, 10);
        RandomWeights.Apply(exact);
        using var reference = EfficientVit.Create(EfficientVitVariant.M0, size, 10);
        reference.load_state_dict(exact.state_dict());
        using var ours = EfficientVit.Create(EfficientVitVariant.M0, size, 10);
        ours.load_state_dict(exact.state_dict());
        exact.to(ScalarType.Float64);
        var x = randn(4, 3, size, size, generator: new Generator(2));
        var labels = tensor(new long[] { 1, 7, 3, 0 });

        var losses = new List<double>();
        using (var acceleration = new TrainingAcceleration(ours, channelsLast: true, keepFreedNativeMemory: false))
        {
            foreach (var (model, input) in new[] { (exact, x.to(ScalarType.Float64)), (reference, x), (ours, acceleration.Input(x)) })
            {
                model.train();
                var loss = nn.functional.cross_entropy(model.forward(input), labels);
                loss.backward();
                losses.Add(loss.to(ScalarType.Float64).item<double>());
            }
            Assert.All(ours.parameters().Where(p => p.dim() == 4), p => Assert.True(ChannelsLast.Is(p)));
        }
        Assert.All(ours.parameters(), p => Assert.True(p.is_contiguous()));

        Assert.True(Math.Abs(losses[2] - losses[0]) <= 2 * Math.Abs(losses[1] - losses[0]) + 1e-6, $"loss: float64 {losses[0]}, contiguous {losses[1]}, channels-last {losses[2]}");
        var referenceByName = reference.named_parameters().ToDictionary(pair => pair.name, pair => pair.parameter);
        var oursByName = ours.named_parameters().ToDictionary(pair => pair.name, pair => pair.parameter);
        foreach (var (name, parameter) in exact.named_parameters())
        {
            var truth = parameter.grad!;
            var scale = Math.Max(1e-6, truth.abs().max().item<double>());
            var referenceError = (referenceByName[name].grad!.to(ScalarType.Float64) - truth).abs().max().item<double>();
            var ourError = (oursByName[name].grad!.to(ScalarType.Float64) - truth).abs().max().item<double>();
            Assert.True(ourError <= 4 * referenceError + 1e-6 * scale,
                $"{name}: channels-last gradient error {ourError}, contiguous {referenceError} (largest {scale})");
        }
    }
}
