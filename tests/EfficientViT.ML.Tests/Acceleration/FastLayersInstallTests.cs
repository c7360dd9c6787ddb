using System.Runtime.CompilerServices;
using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Tests.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Acceleration;

public class FastLayersInstallTests
{
    // The module tree is the model's own while the fast layers are in: the same modules, the same state_dict keys in
    // the same order, the same tensor objects.
    [Fact]
    public void Installing_and_removing_leave_the_modules_and_the_state_dict_as_they_were()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, 64, 10);
        var modules = model.named_modules().ToList();
        var state = model.state_dict().ToList();

        using (FastLayers.Install(model))
        {
            Assert.Equal(modules, model.named_modules().ToList());
            AssertSameEntries(state, model.state_dict().ToList());
        }
        Assert.Equal(modules, model.named_modules().ToList());
        AssertSameEntries(state, model.state_dict().ToList());

        static void AssertSameEntries(List<KeyValuePair<string, Tensor>> expected, List<KeyValuePair<string, Tensor>> actual)
        {
            Assert.Equal(expected.Select(pair => pair.Key), actual.Select(pair => pair.Key));
            Assert.All(expected.Zip(actual), pair => Assert.Same(pair.First.Value, pair.Second.Value));
        }
    }

    // Hooks on the model's own layers tell which code ran: none of them while the fast layers are in (every call went
    // to a fast layer), all of them again once they are out.
    [Theory]
    [InlineData(64, true)]
    [InlineData(112, false)]
    public void Every_layer_call_goes_to_a_fast_layer_until_they_are_removed(int size, bool channelsLast)
    {
        using var scope = NewDisposeScope();
        using var model = EfficientVit.Create(EfficientVitVariant.M0, size, 10, distillation: true);
        RandomWeights.Apply(model);
        model.eval();
        var calls = CountCalls(model);
        var x = randn(2, 3, size, size, generator: new Generator(1));
        using var noGrad = no_grad();

        var plain = model.forward(x);
        var layerCalls = calls.Value;
        Assert.True(layerCalls > 100, $"only {layerCalls} layer calls counted");

        calls.Value = 0;
        Tensor fast;
        using (FastLayers.Install(model))
        {
            if (channelsLast)
                ChannelsLast.Convert(model);
            fast = model.forward(channelsLast ? ChannelsLast.Of(x) : x);
            ChannelsLast.Restore(model);
        }
        Assert.Equal(0, calls.Value);
        Assert.True(TestFiles.MaxAbsDiff(plain, fast) < 1e-4f, $"the fast layers' logits differ by {TestFiles.MaxAbsDiff(plain, fast)}");

        model.forward(x);
        Assert.Equal(layerCalls, calls.Value);
    }

    [Fact]
    public void An_installation_inside_another_changes_nothing_and_removes_nothing()
    {
        using var scope = NewDisposeScope();
        using var model = EfficientVit.Create(EfficientVitVariant.M0, 64, 10);
        model.eval();
        var calls = CountCalls(model);
        var x = randn(2, 3, 64, 64);
        using var noGrad = no_grad();

        using (FastLayers.Install(model))
        {
            using (FastLayers.Install(model))
                model.forward(x);
            model.forward(x);
            Assert.Equal(0, calls.Value);
        }
        model.forward(x);
        Assert.True(calls.Value > 0);
    }

    // A model whose BatchNorm is fused (the distillation teacher's) computes the same with the fast layers.
    [Fact]
    public void A_fused_model_computes_the_same_with_the_fast_layers()
    {
        using var scope = NewDisposeScope();
        using var model = EfficientVit.Create(EfficientVitVariant.M0, 64, 10);
        RandomWeights.Apply(model);
        model.FuseBatchNorm();
        var x = randn(3, 3, 64, 64, generator: new Generator(2));
        using var noGrad = no_grad();

        var plain = model.forward(x);
        Tensor fast;
        using (FastLayers.Install(model))
            fast = model.forward(x);

        Assert.True(TestFiles.MaxAbsDiff(plain, fast) < 1e-4f, $"differs by {TestFiles.MaxAbsDiff(plain, fast)}");
    }

    // A counter of the calls of every Conv2dBN, BNLinear, SqueezeExcite and CascadedGroupAttention registered in the model.
    private static StrongBox<int> CountCalls(EfficientVit model)
    {
        var calls = new StrongBox<int>();
        foreach (var module in model.modules())
        {
            if (module is Conv2dBN or BNLinear or SqueezeExcite or CascadedGroupAttention)
                ((nn.Module<Tensor, Tensor>)module).register_forward_pre_hook((_, input) =>
                {
                    calls.Value++;
                    return input;
                });
        }
        return calls;
    }
}
