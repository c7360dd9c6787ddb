using EfficientViT.ML.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Tests.MLNet;

/// <summary>How the batched cursor keeps its scorer busy: as many batches at once as the scorer runs, every row's features in order.</summary>
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
    public void The_scorer_gets_as_many_batches_at_once_as_it_runs_and_rows_keep_their_order(int concurrency)
    {
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(Enumerable.Range(0, Rows)
            .Select(row => new PixelRow { Pixels = Enumerable.Repeat((float)row, 3 * Side * Side).ToArray() }));
        using var scorer = new SummingScorer(concurrency);
        using var threads = new ScoringThreads(concurrency);
        var view = new BatchedFeaturesDataView(data, new PixelVectorInput("Pixels", "Pixels", Side), "Features",
            new VectorDataViewType(NumberDataViewType.Single, 1), scorer, threads, BatchSize);

        var features = view.GetColumn<float[]>("Features").Select(f => f.Single()).ToArray();

        Assert.Equal(Enumerable.Range(0, Rows).Select(row => 12f * row), features);
        Assert.Equal((Rows + BatchSize - 1) / BatchSize, scorer.Calls);
        // Each call sleeps long enough for the cursor to read and queue the next ones meanwhile; the scoring
        // threads, one per call the scorer runs at once, take them.
        Assert.Equal(concurrency, scorer.MostAtOnce);
    }
}
