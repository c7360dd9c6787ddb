using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Training;

/// <summary>
/// The flat AdamW (parameters, gradients and moments in one buffer each) on a real M0 with channels-last
/// weights, against TorchSharp's own AdamW and the per-tensor clipping fed the same gradients.
/// </summary>
[Collection(TorchGlobalStateCollection.Name)]
public class FlatAdamWTests
{
    private const int Classes = 3, Size = 32;

    // Rates as a schedule would set them, warm-up then decay.
    private static readonly double[] Rates = [1e-3, 2e-3, 4e-3, 3e-3, 1.5e-3, 5e-4];

    private static readonly TrainingRecipe Recipe = TrainingRecipe.ForSmallData(10, 8) with { WeightDecay = 0.05 };

    private static EfficientVit Model(bool channelsLast)
    {
        manual_seed(5);
        var model = EfficientVit.Create(EfficientVitVariant.M0, Size, Classes);
        model.train();
        if (channelsLast)
            ChannelsLast.Convert(model);
        return model;
    }

    private static (Tensor Images, Tensor Labels) Batch(int step)
    {
        var generator = new Generator((ulong)(100 + step));
        return (randn(new long[] { 4, 3, Size, Size }, generator: generator), randint(0, Classes, new long[] { 4 }, generator: generator));
    }

    // Forward and backward on the model's own parameters; gradients end where the optimizer put them.
    private static void Backward(EfficientVit model, AdamWWithGroups optimizer, int step)
    {
        using var scope = NewDisposeScope();
        var (images, labels) = Batch(step);
        var loss = Losses.LabelSmoothingCrossEntropy(model.forward(ChannelsLast.Of(images)), labels, 0.1);
        optimizer.Optimizer.zero_grad();
        loss.backward();
    }

    // TorchSharp's AdamW over the reference model's parameters, with the groups the factory gave the flat one.
    private static TorchSharp.Modules.AdamW ReferenceAdamW(EfficientVit reference, AdamWWithGroups flat)
    {
        var byName = reference.named_parameters().ToDictionary(pair => pair.name, pair => pair.parameter);
        var groups = flat.Groups.Zip(flat.Optimizer.ParamGroups.Cast<TorchSharp.Modules.AdamW.ParamGroup>(), (group, options) =>
            new TorchSharp.Modules.AdamW.ParamGroup(group.ParameterNames.Select(name => byName[name]), lr: options.LearningRate,
                beta1: options.Options.beta1!.Value, beta2: options.Options.beta2!.Value, eps: options.Options.eps!.Value,
                weight_decay: options.Options.weight_decay!.Value));
        return optim.AdamW(groups.ToList());
    }

    private static void CopyGradients(EfficientVit from, EfficientVit to)
    {
        using var scope = NewDisposeScope();
        var target = to.named_parameters().ToDictionary(pair => pair.name, pair => pair.parameter);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in from.named_parameters())
        {
            // In place where a gradient exists: a flat optimizer's gradients must stay views of its buffer.
            if (target[name].grad is { } gradient)
                gradient.copy_(parameter.grad!);
            else
                target[name].grad = parameter.grad!.contiguous().clone().DetachFromDisposeScope();
        }
    }

    private static float MaxDifference(EfficientVit a, EfficientVit b)
    {
        using var scope = NewDisposeScope();
        var other = b.named_parameters().ToDictionary(pair => pair.name, pair => pair.parameter);
        return a.named_parameters().Max(pair => (pair.parameter - other[pair.name]).abs().max().ToSingle());
    }

    private static Dictionary<string, Tensor> Snapshot(EfficientVit model)
    {
        using var noGrad = no_grad();
        return model.named_parameters().ToDictionary(pair => pair.name, pair => pair.parameter.contiguous().clone());
    }

    [Fact]
    public void Its_steps_equal_torchsharps_adamw_with_the_same_groups_and_rate_changes()
    {
        using var scope = NewDisposeScope();
        using var model = Model(channelsLast: true);
        using var reference = Model(channelsLast: false);
        var start = Snapshot(model);
        // Four groups: weight decay on and off, and a backbone at half the rate.
        using var optimizer = OptimizerFactory.CreateAdamW(model, Recipe, OptimizerFactory.IsBackboneParameter, backboneLearningRateScale: 0.5, flat: true);
        Assert.True(((ScalarSafeAdamW)optimizer.Optimizer).IsFlat);
        Assert.Equal(["decay", "no_decay", "backbone_decay", "backbone_no_decay"], optimizer.Groups.Select(g => g.Name));
        using var expected = ReferenceAdamW(reference, optimizer);

        for (var step = 0; step < Rates.Length; step++)
        {
            optimizer.SetLearningRate(Rates[step]);
            CosineSchedule.Apply(expected, Rates[step], optimizer.LearningRateScales);
            Backward(model, optimizer, step);
            CopyGradients(model, reference);
            optimizer.Optimizer.step();
            expected.step();
        }

        var difference = MaxDifference(model, reference);
        Assert.True(difference <= 1e-6f, $"max abs difference from TorchSharp's AdamW: {difference}");
        // The layout the weights had before is kept (the buffer holds them channels-last).
        Assert.All(model.parameters().Where(p => p.dim() == 4), p => Assert.True(ChannelsLast.Is(p)));
        // Most tensors moved (those whose gradient is zero and which take no decay stay, in both).
        var moved = model.named_parameters().Count(pair => !pair.parameter.allclose(start[pair.name]));
        Assert.True(moved > model.parameters().Count() / 2, $"{moved} of {model.parameters().Count()} parameter tensors moved");
    }

    [Fact]
    public void Adaptive_and_norm_clipping_on_the_flat_gradients_equal_the_per_tensor_clipping()
    {
        using var scope = NewDisposeScope();
        using var model = Model(channelsLast: true);
        using var reference = Model(channelsLast: false);
        using var optimizer = OptimizerFactory.CreateAdamW(model, Recipe, flat: true);
        Backward(model, optimizer, step: 0);
        CopyGradients(model, reference);
        var unclipped = reference.named_parameters().ToDictionary(pair => pair.name, pair => pair.parameter.grad!.clone());

        optimizer.ClipGradients(GradientClipMode.Adaptive, 0.02);
        GradientClipping.ClipAdaptive(reference.parameters(), 0.02);

        var byName = model.named_parameters().ToDictionary(pair => pair.name, pair => pair.parameter);
        var (clipped, kept) = (0, 0);
        foreach (var (name, parameter) in reference.named_parameters())
        {
            var (actual, wanted) = (byName[name].grad!, parameter.grad!);
            var scale = wanted.abs().max().ToSingle();
            var difference = (actual - wanted).abs().max().ToSingle();
            Assert.True(difference <= 1e-5f * Math.Max(scale, 1e-12f), $"{name}: max abs difference {difference} (largest gradient {scale})");
            if (wanted.eq(unclipped[name]).all().item<bool>())
                kept++;
            else
                clipped++;
        }
        // Both branches of the rule were taken.
        Assert.True(clipped > 0 && kept > 0, $"{clipped} tensors clipped, {kept} kept");

        var norm = ((ScalarSafeAdamW)optimizer.Optimizer).Flat!;
        var flatNorm = FlatGradientClipping.ClipNorm(norm, 0.05);
        var perTensorNorm = GradientClipping.ClipNorm(reference.parameters(), 0.05);
        Assert.True(Math.Abs(perTensorNorm - flatNorm) <= 1e-5 * perTensorNorm, $"global norm {flatNorm} flat, {perTensorNorm} per tensor");
        var after = MaxGradientDifference(model, reference);
        Assert.True(after <= 1e-6f, $"max abs difference after norm clipping {after}");
    }

    [Fact]
    public void Resuming_from_a_saved_state_in_the_middle_gives_bit_identical_weights()
    {
        using var scope = NewDisposeScope();
        using var uninterrupted = Model(channelsLast: true);
        using var first = OptimizerFactory.CreateAdamW(uninterrupted, Recipe, flat: true);
        var saved = new MemoryStream();
        Dictionary<string, Tensor>? weightsAtSave = null;
        for (var step = 0; step < Rates.Length; step++)
        {
            if (step == 3)
            {
                // As the trainer saves: weights contiguous for the files, channels-last again after.
                ChannelsLast.Restore(uninterrupted);
                weightsAtSave = Snapshot(uninterrupted);
                using (var writer = new BinaryWriter(saved, System.Text.Encoding.UTF8, leaveOpen: true))
                    first.Optimizer.save_state_dict(writer);
                ChannelsLast.Convert(uninterrupted);
            }
            Step(uninterrupted, first, step);
        }

        using var resumed = Model(channelsLast: false);
        LoadWeights(resumed, weightsAtSave!);
        ChannelsLast.Convert(resumed);
        using var second = OptimizerFactory.CreateAdamW(resumed, Recipe, flat: true);
        saved.Position = 0;
        using (var reader = new BinaryReader(saved))
            second.Optimizer.load_state_dict(reader);
        for (var step = 3; step < Rates.Length; step++)
            Step(resumed, second, step);

        Assert.Equal(0f, MaxDifference(uninterrupted, resumed));
    }

    [Fact]
    public void A_state_saved_by_the_per_tensor_update_resumes_in_the_flat_one_and_back()
    {
        using var scope = NewDisposeScope();
        using var perTensor = Model(channelsLast: true);
        using var flat = Model(channelsLast: true);
        using var perTensorOptimizer = OptimizerFactory.CreateAdamW(perTensor, Recipe, flat: false);
        using var flatOptimizer = OptimizerFactory.CreateAdamW(flat, Recipe, flat: true);
        for (var step = 0; step < 3; step++)
            Step(perTensor, perTensorOptimizer, step);

        // The per-tensor run's weights and state go into the flat optimizer: the same moments, bit for bit.
        LoadWeights(flat, Snapshot(perTensor));
        var saved = new MemoryStream();
        using (var writer = new BinaryWriter(saved, System.Text.Encoding.UTF8, leaveOpen: true))
            perTensorOptimizer.Optimizer.save_state_dict(writer);
        saved.Position = 0;
        using (var reader = new BinaryReader(saved, System.Text.Encoding.UTF8, leaveOpen: true))
            flatOptimizer.Optimizer.load_state_dict(reader);
        AssertSameMoments(flatOptimizer, perTensorOptimizer, steps: 3);

        // Then both go on with the same gradients (the per-tensor run's, clipped tensor by tensor).
        for (var step = 3; step < Rates.Length; step++)
        {
            perTensorOptimizer.SetLearningRate(Rates[step]);
            flatOptimizer.SetLearningRate(Rates[step]);
            Backward(perTensor, perTensorOptimizer, step);
            perTensorOptimizer.ClipGradients(GradientClipMode.Adaptive, 0.02);
            CopyGradients(perTensor, flat);
            perTensorOptimizer.Optimizer.step();
            flatOptimizer.Optimizer.step();
        }
        var difference = MaxDifference(perTensor, flat);
        Assert.True(difference <= 1e-6f, $"max abs difference {difference}");

        // And the flat optimizer's state loads into a per-tensor one with the same moments.
        var again = new MemoryStream();
        using (var writer = new BinaryWriter(again, System.Text.Encoding.UTF8, leaveOpen: true))
            flatOptimizer.Optimizer.save_state_dict(writer);
        again.Position = 0;
        using (var reader = new BinaryReader(again))
            perTensorOptimizer.Optimizer.load_state_dict(reader);
        AssertSameMoments(flatOptimizer, perTensorOptimizer, steps: Rates.Length);
    }

    private static void AssertSameMoments(AdamWWithGroups flat, AdamWWithGroups perTensor, int steps)
    {
        var flatStates = flat.Optimizer.state_dict().State.Cast<TorchSharp.Modules.AdamW.State>().ToList();
        var perTensorStates = perTensor.Optimizer.state_dict().State.Cast<TorchSharp.Modules.AdamW.State>().ToList();
        Assert.Equal(flatStates.Count, perTensorStates.Count);
        for (var i = 0; i < flatStates.Count; i++)
        {
            Assert.Equal(steps, flatStates[i].step);
            Assert.Equal(steps, perTensorStates[i].step);
            Assert.True(flatStates[i].exp_avg.eq(perTensorStates[i].exp_avg).all().item<bool>(), $"state {i}: first moments differ");
            Assert.True(flatStates[i].exp_avg_sq.eq(perTensorStates[i].exp_avg_sq).all().item<bool>(), $"state {i}: second moments differ");
        }
    }

    [Fact]
    public void Gradients_stay_views_of_the_flat_buffer_across_steps()
    {
        using var scope = NewDisposeScope();
        using var model = Model(channelsLast: true);
        using var optimizer = OptimizerFactory.CreateAdamW(model, Recipe, flat: true);
        var flat = ((ScalarSafeAdamW)optimizer.Optimizer).Flat!;
        for (var step = 0; step < 2; step++)
            Step(model, optimizer, step);
        Backward(model, optimizer, step: 2);

        // The buffer holds what each parameter's gradient holds, at the parameter's place.
        var index = 0;
        foreach (var parameter in flat.Parameters)
        {
            var view = flat.ViewOf(flat.Gradients, index++);
            Assert.True(view.eq(parameter.grad!).all().item<bool>(), $"gradient {index - 1} is not in the buffer");
        }
        Assert.True(flat.Gradients.abs().sum().ToSingle() > 0);
        optimizer.Optimizer.zero_grad();
        Assert.Equal(0f, flat.Gradients.abs().sum().ToSingle());
        Assert.All(model.parameters(), p => Assert.Equal(0f, p.grad!.abs().sum().ToSingle()));

        // Gradients replaced behind the optimizer's back (new tensors) are taken into the buffer before the update.
        Backward(model, optimizer, step: 3);
        var expected = flat.Gradients.clone();
        foreach (var parameter in model.parameters())
            parameter.grad = parameter.grad!.clone();
        flat.Gradients.zero_();
        optimizer.ClipGradients(GradientClipMode.None, 0);
        optimizer.Optimizer.step();
        Assert.True(flat.Gradients.eq(expected).all().item<bool>(), "the replaced gradients did not reach the buffer");
        index = 0;
        foreach (var parameter in flat.Parameters)
            Assert.True(flat.ViewOf(flat.Gradients, index++).eq(parameter.grad!).all().item<bool>(), $"gradient {index - 1} is not a view of the buffer again");
        flat.Gradients.fill_(1);
        Assert.All(model.parameters(), p => Assert.Equal((float)p.numel(), p.grad!.sum().ToSingle()));
    }

    private static void Step(EfficientVit model, AdamWWithGroups optimizer, int step)
    {
        optimizer.SetLearningRate(Rates[step]);
        Backward(model, optimizer, step);
        optimizer.ClipGradients(GradientClipMode.Adaptive, 0.02);
        optimizer.Optimizer.step();
    }

    private static void LoadWeights(EfficientVit model, Dictionary<string, Tensor> weights)
    {
        using var noGrad = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
            parameter.copy_(weights[name]);
    }

    private static float MaxGradientDifference(EfficientVit a, EfficientVit b)
    {
        using var scope = NewDisposeScope();
        var other = b.named_parameters().ToDictionary(pair => pair.name, pair => pair.parameter);
        return a.named_parameters().Max(pair => (pair.parameter.grad! - other[pair.name].grad!).abs().max().ToSingle());
    }
}
