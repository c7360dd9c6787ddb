using EfficientViT.ML.Featurization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Tests.Featurization;

/// <summary>How the batched cursor keeps its scorer busy: as many batches at once as the scorer runs and one more, every row's features in order.</summary>
public class BatchSchedulingTests
{
    private const int Side = 2;
    private const int Rows = 50;
    private const int BatchSize = 8;

    private sealed class PixelRow
    {
        [VectorType(3 * Side * Side)]
        public float[] Pixels { get; set; } = [];
    }

    // Each item's feature is the sum of its inputs; records how many calls overlapped at most.
    private sealed class SummingScorer(int concurrency) : IFeatureScorer
    {
        private int running;

        public int MostAtOnce { get; private set; }

        public int Calls { get; private set; }

        public int Concurrency => concurrency;

        public int InputSize => 3 * Side * Side;

        public int FeatureSize => 1;

        public void Run(float[] inputs, int count, float[] features)
        {
            var now = Interlocked.Increment(ref running);
            lock (this)
            {
                MostAtOnce = Math.Max(MostAtOnce, now);
                Calls++;
            }
            Thread.Sleep(30);
            for (var i = 0; i < count; i++)
                features[i] = inputs.AsSpan(i * InputSize, InputSize).ToArray().Sum();
            Interlocked.Decrement(ref running);
        }

        public void Dispose()
        {
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void The_scorer_always_has_a_batch_for_each_of_its_runs_and_rows_keep_their_order(int concurrency)
    {
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(Enumerable.Range(0, Rows)
            .Select(row => new PixelRow { Pixels = Enumerable.Repeat((float)row, 3 * Side * Side).ToArray() }));
        using var scorer = new SummingScorer(concurrency);
        var view = new BatchedFeaturesDataView(data, new PixelVectorInput("Pixels", "Pixels", Side), "Features",
            new VectorDataViewType(NumberDataViewType.Single, 1), scorer, BatchSize);

        var features = view.GetColumn<float[]>("Features").Select(f => f.Single()).ToArray();

        Assert.Equal(Enumerable.Range(0, Rows).Select(row => 12f * row), features);
        Assert.Equal((Rows + BatchSize - 1) / BatchSize, scorer.Calls);
        // Each call sleeps long enough for the cursor to read and submit the next ones meanwhile: as many as
        // the scorer runs at once, plus the batch being served (a scorer that runs fewer makes the rest wait).
        Assert.Equal(concurrency + 1, scorer.MostAtOnce);
    }
}
