using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Modeling;

public class CascadedGroupAttentionTests
{
    private const int Dim = 12, KeyDim = 4, Heads = 3, ValueDim = 4, Resolution = 3;

    [Fact]
    public void Each_head_attends_over_its_chunk_plus_the_previous_head_output()
    {
        using var attention = new CascadedGroupAttention(Dim, KeyDim, Heads, ValueDim, Resolution, [3, 3, 1]);
        RandomWeights.Apply(attention);
        attention.eval();
        using var scope = NewDisposeScope();
        var x = randn(2, Dim, Resolution, Resolution, generator: new Generator(3));
        var weights = attention.state_dict();

        var expected = Reference(x, weights);
        var actual = attention.forward(x);

        Assert.True(TestFiles.MaxAbsDiff(expected, actual) < 1e-5f);
    }

    [Fact]
    public void Later_heads_depend_on_earlier_chunks_but_the_first_head_only_on_its_own()
    {
        using var attention = new CascadedGroupAttention(Dim, KeyDim, Heads, ValueDim, Resolution, [3, 3, 3]);
        RandomWeights.Apply(attention);
        attention.eval();
        using var scope = NewDisposeScope();
        var x = randn(1, Dim, Resolution, Resolution, generator: new Generator(5));
        var changedLastChunk = x.clone();
        changedLastChunk[.., (Dim - Dim / Heads)..] += 1.0f;
        var weights = attention.state_dict();

        var (before, _) = HeadOutputs(x, weights);
        var (after, _) = HeadOutputs(changedLastChunk, weights);
        // Only the last head sees the last chunk.
        Assert.True(TestFiles.MaxAbsDiff(before[0], after[0]) == 0);
        Assert.True(TestFiles.MaxAbsDiff(before[1], after[1]) == 0);
        Assert.True(TestFiles.MaxAbsDiff(before[2], after[2]) > 1e-3);

        var changedFirstChunk = x.clone();
        changedFirstChunk[.., ..(Dim / Heads)] += 1.0f;
        var (afterFirst, _) = HeadOutputs(changedFirstChunk, weights);
        // The first chunk reaches every head through the cascade.
        Assert.All(Enumerable.Range(0, Heads), i => Assert.True(TestFiles.MaxAbsDiff(before[i], afterFirst[i]) > 1e-4));
    }

    [Fact]
    public void Eval_cache_follows_weight_changes_after_invalidation()
    {
        using var attention = new CascadedGroupAttention(Dim, KeyDim, Heads, ValueDim, Resolution, [3, 3, 3]);
        RandomWeights.Apply(attention);
        attention.eval();
        using var scope = NewDisposeScope();
        var x = randn(1, Dim, Resolution, Resolution);
        var first = attention.forward(x);
        using (no_grad())
        {
            // Not a constant shift: softmax would ignore that.
            var biases = attention.get_parameter("attention_biases")!;
            biases.add_(rand(biases.shape));
        }
        attention.InvalidateCache();
        var second = attention.forward(x);
        Assert.True(TestFiles.MaxAbsDiff(first, second) > 1e-4);
        Assert.True(TestFiles.MaxAbsDiff(Reference(x, attention.state_dict()), second) < 1e-5f);
    }

    private static Tensor Reference(Tensor x, IDictionary<string, Tensor> weights)
    {
        var (heads, _) = HeadOutputs(x, weights);
        var concatenated = cat(heads, 1);
        return ReferenceOps.ConvBN(nn.functional.relu(concatenated), weights, "proj.1");
    }

    // The official cascade, written out per head with explicit loops over the offset table.
    private static (Tensor[] Heads, Tensor Biases) HeadOutputs(Tensor x, IDictionary<string, Tensor> weights)
    {
        var table = AttentionBiasIndex.Build(Resolution);
        var n = Resolution * Resolution;
        var biasRows = weights["attention_biases"];
        var biases = zeros(Heads, n, n);
        for (var h = 0; h < Heads; h++)
            for (var i = 0; i < n; i++)
                for (var j = 0; j < n; j++)
                    biases[h, i, j] = biasRows[h, table[i * n + j]];

        var chunk = Dim / Heads;
        var outputs = new Tensor[Heads];
        Tensor? previous = null;
        for (var h = 0; h < Heads; h++)
        {
            var input = x[.., (h * chunk)..((h + 1) * chunk)];
            if (previous is not null)
                input = input + previous;
            var qkv = ReferenceOps.ConvBN(input, weights, $"qkvs.{h}");
            var kernel = weights[$"dws.{h}.c.weight"].shape[2];
            var q = ReferenceOps.ConvBN(qkv[.., ..KeyDim], weights, $"dws.{h}", padding: kernel / 2, groups: KeyDim).flatten(2);
            var k = qkv[.., KeyDim..(2 * KeyDim)].flatten(2);
            var v = qkv[.., (2 * KeyDim)..].flatten(2);
            var scores = q.transpose(1, 2).matmul(k) / Math.Sqrt(KeyDim) + biases[h];
            var attention = scores.softmax(-1);
            previous = v.matmul(attention.transpose(1, 2)).reshape(x.shape[0], ValueDim, Resolution, Resolution);
            outputs[h] = previous;
        }
        return (outputs, biases);
    }
}
