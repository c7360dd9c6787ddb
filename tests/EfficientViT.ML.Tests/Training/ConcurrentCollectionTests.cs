using EfficientViT.ML.Modeling;
using EfficientViT.ML.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Training;

/// <summary>
/// Operations that take numbers (scales, epsilons, the factor of an addition), repeated on tiny tensors
/// while another thread collects garbage without pause. A Scalar that nothing keeps alive during its
/// native call is then freed mid-call, which ends the process; these ran for a moment each before they
/// kept their Scalars alive.
/// </summary>
[Collection(TorchGlobalStateCollection.Name)]
public class ConcurrentCollectionTests
{
    private const int Repetitions = 50_000;

    public static TheoryData<string> Operations => new(Cases.Keys);

    private static readonly Dictionary<string, Func<Action>> Cases = new()
    {
        ["residual forward"] = () =>
        {
            var residual = new Residual(nn.Identity());
            var x = ones(2);
            return () => residual.forward(x);
        },
        ["residual forward with drop path"] = () =>
        {
            var residual = new Residual(nn.Identity(), dropPath: 0.5);
            var x = ones(2, 1, 1, 1);
            return () => residual.forward(x);
        },
        ["Conv2d-BN fusion"] = () =>
        {
            var convBn = new Conv2dBN(1, 1);
            return () => { var (w, b) = convBn.FusedWeightAndBias(); w.Dispose(); b.Dispose(); };
        },
        ["BN-Linear fusion"] = () =>
        {
            var bnLinear = new BNLinear(1, 1);
            return () => { var (w, b) = bnLinear.FusedWeightAndBias(); w.Dispose(); b.Dispose(); };
        },
        ["AdamW step"] = () =>
        {
            var parameter = new Parameter(ones(2)) { grad = ones(2) };
            var optimizer = new ScalarSafeAdamW([new AdamW.ParamGroup([parameter])], lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05);
            return () => optimizer.step();
        },
        ["losses"] = () =>
        {
            var logits = zeros(1, 2);
            var labels = tensor(new long[] { 1 });
            return () => Losses.Distillation(logits, logits, logits, l => Losses.LabelSmoothingCrossEntropy(l, labels), DistillationMode.Soft);
        },
        ["mixup targets"] = () =>
        {
            var mixer = new MixupCutmix(numClasses: 2, cutmixAlpha: 0);
            var (images, labels, random) = (zeros(2, 1, 1, 1), tensor(new long[] { 0, 1 }), new Random(1));
            return () => mixer.Apply(images, labels, random);
        },
        ["gradient clipping"] = () =>
        {
            var parameter = new Parameter(ones(2, 1)) { grad = ones(2, 1) };
            return () => { GradientClipping.Apply([parameter], GradientClipMode.Adaptive, 0.02); GradientClipping.Apply([parameter], GradientClipMode.Norm, 0.5); };
        },
    };

    [Theory]
    [MemberData(nameof(Operations))]
    public void Survives_collections_on_another_thread(string operation)
    {
        using var scope = NewDisposeScope();
        var action = Cases[operation]();
        var collections = 0;
        var stop = false;
        var collector = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                Interlocked.Increment(ref collections);
            }
        });
        collector.Start();
        try
        {
            for (var i = 0; i < Repetitions; i++)
            {
                using var inner = NewDisposeScope();
                action();
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            collector.Join();
        }
        Assert.True(collections > 0, "no collection ran alongside");
    }
}
