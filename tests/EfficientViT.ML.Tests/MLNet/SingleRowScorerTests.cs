using EfficientViT.ML.MLNet;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using EfficientViT.ML.Tests.Modeling;

namespace EfficientViT.ML.Tests.MLNet;

public class SingleRowScorerTests
{
    private static byte[] FeaturesGraph()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 64, numClasses: 0);
        RandomWeights.Apply(model);
        return EfficientVitOnnxExporter.ToBytes(model, new OnnxExportOptions { IncludeLogits = false });
    }

    // Without a thread count the scorer times its calls at one thread and at every core (and again whenever calls
    // slow down): both sessions score, and give the same features for the same image.
    [Fact]
    public void Without_a_thread_count_calls_run_at_one_thread_and_at_every_core_with_the_same_features()
    {
        Assert.True(Environment.ProcessorCount > 1, "this test needs a machine with more than one core");
        using var scorer = new SingleRowScorer(FeaturesGraph(), "input", "features", intraOpThreads: null, OnnxDevice.Cpu);
        using var slot = scorer.NewSlot();
        var random = new Random(5);
        for (var i = 0; i < slot.Input.Length; i++)
            slot.Input[i] = (float)(random.NextDouble() * 4 - 2);

        var counts = new HashSet<int>();
        float[]? first = null;
        for (var call = 0; call < 16; call++)
        {
            counts.Add(scorer.ThreadsForNextCall);
            slot.Run();
            first ??= slot.Output.ToArray();
            Assert.Equal(first, slot.Output, (a, b) => Math.Abs(a - b) <= 1e-5f * Math.Max(1, Math.Abs(a)));
        }
        Assert.Equal([1, Environment.ProcessorCount], counts.Order());
    }

    [Fact]
    public void A_thread_count_given_is_the_only_one_used()
    {
        using var scorer = new SingleRowScorer(FeaturesGraph(), "input", "features", intraOpThreads: 1, OnnxDevice.Cpu);
        using var slot = scorer.NewSlot();
        for (var call = 0; call < 8; call++)
        {
            Assert.Equal(1, scorer.ThreadsForNextCall);
            slot.Run();
        }
    }
}
