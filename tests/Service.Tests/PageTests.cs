using System.Globalization;

namespace EfficientViT.Service.Tests;

/// <summary>The page of <c>GET /</c>, in a real headless browser: pick a file, see the top label and the bars.</summary>
[Collection(ServiceCollection.Name)]
public class PageTests(ServiceFixture service)
{
    [Fact]
    public async Task Picking_an_image_shows_the_top_label_and_five_bars_of_the_probabilities()
    {
        var file = service.FashionMnistPngs[7];
        var expected = service.SerialAnswer(file);
        await using var browser = await ChromeDriver.StartAsync();
        await browser.NavigateAsync(service.Address);

        var input = await browser.FindAsync("input#file[type=file]");
        Assert.NotNull(input);
        await browser.SendKeysAsync(input, file);
        var topLabel = await browser.WaitForTextAsync("#top-label", TimeSpan.FromSeconds(60));

        Assert.Equal(expected.Label, topLabel);
        var names = await browser.FindAllAsync(".row .name");
        Assert.Equal(expected.Top.Select(t => t.Label), await Task.WhenAll(names.Select(browser.TextAsync)));
        var bars = await browser.FindAllAsync(".row .bar");
        Assert.Equal(5, bars.Count);
        var widths = await browser.ExecuteAsync("return [...document.querySelectorAll('.row .bar')].map(b => b.getBoundingClientRect().width / b.parentElement.getBoundingClientRect().width);");
        var drawn = widths!.AsArray().Select(w => w!.GetValue<double>()).ToArray();
        // Each bar is drawn as wide, relative to its track, as its probability.
        for (var i = 0; i < 5; i++)
            Assert.True(Math.Abs(drawn[i] - expected.Top[i].Probability) < 0.01, $"bar {i}: drawn {drawn[i]:F3}, probability {expected.Top[i].Probability:F3}");
        Assert.True(drawn[0] > drawn[4], "the bars show different probabilities");
        var values = await browser.FindAllAsync(".row .value");
        Assert.Equal((expected.Top[0].Probability * 100).ToString("F1", CultureInfo.InvariantCulture) + "%", await browser.TextAsync(values[0]));
        Assert.Equal("", await browser.TextAsync((await browser.FindAsync("#error"))!));
    }

    [Fact]
    public async Task The_page_loads_nothing_from_elsewhere()
    {
        var html = await service.Client.GetStringAsync("");
        Assert.Contains("<input type=\"file\" id=\"file\"", html);
        Assert.DoesNotContain("http://", html);
        Assert.DoesNotContain("https://", html);
        Assert.DoesNotContain("src=\"//", html);
    }
}
