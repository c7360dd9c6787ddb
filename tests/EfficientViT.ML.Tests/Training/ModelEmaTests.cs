using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Training;

public class ModelEmaTests
{
    private static EfficientVit SmallModel() => EfficientVit.Create(EfficientVitVariant.M0, imageSize: 32, numClasses: 3);

    // Moves every floating-point entry (weights and BN statistics) and sets every integer one (BN counters) to 7.
    private static void Perturb(EfficientVit model, long seed)
    {
        var generator = new Generator((ulong)seed);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (_, value) in model.state_dict())
        {
            if (value.is_floating_point())
                value.add_(randn(value.shape, generator: generator));
            else if (value.dim() == 0)
                value.fill_(7);
        }
    }

    private static Dictionary<string, Tensor> Snapshot(IReadOnlyDictionary<string, Tensor> state) =>
        state.ToDictionary(entry => entry.Key, entry => entry.Value.clone());

    [Fact]
    public void One_update_is_decay_times_ema_plus_the_rest_times_the_model()
    {
        using var scope = NewDisposeScope();
        using var model = SmallModel();
        using var ema = new ModelEma(model, decay: 0.9);
        var before = Snapshot(ema.State);
        Perturb(model, seed: 1);

        ema.Update(model);

        var current = model.state_dict();
        Assert.Equal(current.Keys.OrderBy(k => k), ema.State.Keys.OrderBy(k => k));
        foreach (var (name, average) in ema.State)
        {
            if (average.is_floating_point())
            {
                var expected = before[name] * 0.9 + current[name] * 0.1;
                Assert.True(average.allclose(expected, rtol: 1e-5, atol: 1e-6), name);
            }
            else
            {
                Assert.True(average.eq(current[name]).all().ToBoolean(), $"{name} should be copied");
            }
        }
        Assert.Contains(ema.State.Keys, key => key.EndsWith("attention_biases", StringComparison.Ordinal));
        Assert.Contains(ema.State.Keys, key => key.EndsWith("running_var", StringComparison.Ordinal));
        Assert.Contains(ema.State.Keys, key => key.EndsWith("num_batches_tracked", StringComparison.Ordinal));
    }

    [Fact]
    public void The_average_is_independent_of_the_model()
    {
        using var scope = NewDisposeScope();
        using var model = SmallModel();
        using var ema = new ModelEma(model, decay: 0.5);
        var before = Snapshot(ema.State);
        Perturb(model, seed: 2); // without Update, the EMA must not move
        Assert.All(ema.State, entry => Assert.True(entry.Value.eq(before[entry.Key]).all().ToBoolean(), entry.Key));
        Assert.All(ema.State.Values, value => Assert.False(value.requires_grad));
    }

    [Fact]
    public void CopyTo_writes_the_average_into_a_model()
    {
        using var scope = NewDisposeScope();
        using var model = SmallModel();
        using var ema = new ModelEma(model, decay: 0.9);
        Perturb(model, seed: 3);
        ema.Update(model);
        using var target = SmallModel();
        target.eval();
        using (no_grad())
            target.forward(zeros(1, 3, 32, 32)); // builds the eval-mode bias cache, which CopyTo must invalidate

        ema.CopyTo(target);

        foreach (var (name, value) in target.state_dict())
            Assert.True(value.eq(ema.State[name]).all().ToBoolean(), name);

        // The target now computes what a model loaded with the same state computes.
        using var reference = SmallModel();
        reference.load_state_dict(ema.State.ToDictionary(entry => entry.Key, entry => entry.Value));
        reference.eval();
        using var noGrad = no_grad();
        var input = randn(new long[] { 2, 3, 32, 32 }, generator: new Generator(4));
        Assert.True(target.forward(input).allclose(reference.forward(input), rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void Load_restores_a_saved_average()
    {
        using var scope = NewDisposeScope();
        using var model = SmallModel();
        using var ema = new ModelEma(model, decay: 0.9);
        Perturb(model, seed: 5);
        ema.Update(model);
        var saved = Snapshot(ema.State);

        using var fresh = SmallModel();
        using var resumed = new ModelEma(fresh, decay: 0.9);
        resumed.Load(saved);

        Assert.All(resumed.State, entry => Assert.True(entry.Value.eq(saved[entry.Key]).all().ToBoolean(), entry.Key));
    }

    [Fact]
    public void Load_rejects_a_state_of_another_architecture()
    {
        using var scope = NewDisposeScope();
        using var model = SmallModel();
        using var ema = new ModelEma(model, decay: 0.9);
        var saved = Snapshot(ema.State);
        saved.Remove(saved.Keys.First());
        Assert.Throws<ArgumentException>(() => ema.Load(saved));

        using var other = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 32, numClasses: 5);
        using var otherEma = new ModelEma(other, 0.9);
        Assert.Throws<ArgumentException>(() => otherEma.Load(Snapshot(ema.State)));
    }

    // Averaging over the flat AdamW's buffer gives what averaging tensor by tensor gives, entry by entry, over
    // training steps (channels-last weights, as the trainer trains); the state keeps its keys and shapes, and
    // the average lags the model (not a copy of it).
    [Fact]
    public void Averaging_over_the_flat_buffer_equals_averaging_tensor_by_tensor()
    {
        manual_seed(4);
        using var scope = NewDisposeScope();
        using var model = SmallModel();
        ChannelsLast.Convert(model);
        model.train();
        var recipe = TrainingRecipe.ForSmallData(3, 4, 10) with { EmaDecay = null };
        using var optimizer = OptimizerFactory.CreateAdamW(model, recipe, flat: true);
        using var perTensor = new ModelEma(model, 0.8);
        using var flat = new ModelEma(model, 0.8);
        flat.AverageFlat(((ScalarSafeAdamW)optimizer.Optimizer).Flat!, model);
        var generator = new Generator(6);
        for (var step = 0; step < 4; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.Optimizer.zero_grad();
            var images = ChannelsLast.Of(randn(4, 3, 32, 32, generator: generator));
            nn.functional.cross_entropy(model.forward(images), tensor(new long[] { 0, 1, 2, 1 })).backward();
            optimizer.Optimizer.step();
            perTensor.Update(model);
            flat.Update(model);
        }

        Assert.Equal(perTensor.State.Keys.Order(), flat.State.Keys.Order());
        var modelState = model.state_dict();
        foreach (var (name, expected) in perTensor.State)
        {
            var actual = flat.State[name];
            Assert.Equal(expected.shape, actual.shape);
            if (!expected.is_floating_point())
            {
                Assert.True(expected.eq(actual).all().item<bool>(), name);
                continue;
            }
            Assert.True(TestFiles.MaxAbsDiff(expected, actual) <= 1e-6f * Math.Max(1f, expected.abs().max().item<float>()), name);
        }
        var statistic = "patch_embed.0.bn.running_mean";
        Assert.True(TestFiles.MaxAbsDiff(modelState[statistic], flat.State[statistic]) > 1e-4f, "the average lags the model");
    }
}
