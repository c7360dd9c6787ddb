using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Modeling;

public class MemoryTests
{
    [Fact]
    public void Five_hundred_forward_passes_leave_no_live_tensors_behind()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, numClasses: 10);
        model.eval();
        using var input = randn(1, 3, 224, 224);

        void Forward()
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var logits = model.forward(input);
            Assert.Equal(10, logits.shape[1]);
        }

        Forward(); // builds the eval-mode bias caches, which live as long as the model
        var statistics = DisposeScopeManager.Statistics;
        statistics.Reset();
        var liveBefore = statistics.ThreadTotalLiveCount;
        var samples = new List<long>();
        for (var i = 0; i < 500; i++)
        {
            Forward();
            if (i % 100 == 99)
                samples.Add(statistics.ThreadTotalLiveCount);
        }

        Assert.True(statistics.CreatedInScopeCount > 500 * 100, $"expected many temporaries, saw {statistics.CreatedInScopeCount}");
        Assert.All(samples, live => Assert.Equal(liveBefore, live));
    }
}
