using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using EfficientViT.Service.LoadTest;

namespace EfficientViT.Service.Tests;

/// <summary>Each kind of bad request gets its 4xx with a JSON message, and the service keeps answering good ones.</summary>
[Collection(ServiceCollection.Name)]
public class BadRequestTests(ServiceFixture service)
{
    [Fact]
    public async Task Bytes_that_are_not_an_image_get_400()
    {
        await AssertRejectedAsync(TestImages.Body(Encoding.UTF8.GetBytes("this is a text file, not a PNG"), "image/png"), HttpStatusCode.BadRequest, "not an image");
    }

    [Fact]
    public async Task An_empty_body_gets_400()
    {
        await AssertRejectedAsync(TestImages.Body([], "image/png"), HttpStatusCode.BadRequest, "empty");
    }

    [Fact]
    public async Task A_truncated_jpeg_gets_400()
    {
        var jpeg = await File.ReadAllBytesAsync(service.ColourPhoto);
        await AssertRejectedAsync(TestImages.Body(jpeg[..(jpeg.Length / 3)], "image/jpeg"), HttpStatusCode.BadRequest, "truncated or corrupt");
    }

    [Fact]
    public async Task A_jpeg_with_headers_and_an_end_marker_but_no_image_data_gets_400()
    {
        // libjpeg decodes it to a grey image, with no more than a warning.
        var jpeg = HostileUploads.JpegWithoutScanData(await File.ReadAllBytesAsync(service.ColourPhoto));
        await AssertRejectedAsync(TestImages.Body(jpeg, "image/jpeg"), HttpStatusCode.BadRequest, "holds no image data");
    }

    [Fact]
    public async Task A_multipart_form_without_its_closing_boundary_gets_400()
    {
        var png = await File.ReadAllBytesAsync(service.FashionMnistPngs[2]);
        await AssertRejectedAsync(TestImages.Body(HostileUploads.MultipartWithoutClosingBoundary(png), HostileUploads.MultipartContentType), HttpStatusCode.BadRequest, "ends before its closing boundary");
    }

    [Fact]
    public async Task A_multipart_form_cut_in_its_file_gets_400()
    {
        var png = await File.ReadAllBytesAsync(service.FashionMnistPngs[2]);
        await AssertRejectedAsync(TestImages.Body(HostileUploads.MultipartCutInFile(png), HostileUploads.MultipartContentType), HttpStatusCode.BadRequest, "ends before its closing boundary");
    }

    [Fact]
    public async Task The_same_form_with_its_closing_boundary_is_scored()
    {
        // The malformed forms above differ from this one only where they end.
        var file = service.FashionMnistPngs[2];
        using var response = await service.Client.PostAsync("predict", TestImages.Body(HostileUploads.Multipart(await File.ReadAllBytesAsync(file)), HostileUploads.MultipartContentType));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(service.SerialAnswer(file).Label, (await response.Content.ReadFromJsonAsync<Prediction>())!.Label);
    }

    [Fact]
    public async Task A_50_megapixel_image_is_refused_from_its_header_with_413()
    {
        var png = HostileUploads.PngDeclaring(8000, 6250);
        Assert.True(png.Length < 100, "the file is only a header");
        await AssertRejectedAsync(TestImages.Body(png, "image/png"), HttpStatusCode.RequestEntityTooLarge, "8000x6250 = 50.0 megapixels");
    }

    [Fact]
    public async Task A_body_over_10_MB_gets_413()
    {
        var content = TestImages.Body(new byte[11 * 1024 * 1024], "image/png");
        await AssertRejectedAsync(content, HttpStatusCode.RequestEntityTooLarge, "larger than the 10 MB accepted", expectContinue: true);
    }

    [Fact]
    public async Task A_chunked_body_over_10_MB_gets_413()
    {
        // No Content-Length: the limit is found while reading.
        var content = new StreamContent(new MemoryStream(new byte[11 * 1024 * 1024]));
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        await AssertRejectedAsync(content, HttpStatusCode.RequestEntityTooLarge, "larger than the 10 MB accepted", chunked: true);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/json")]
    [InlineData("")]
    public async Task Another_content_type_gets_415(string contentType)
    {
        var content = new ByteArrayContent(await File.ReadAllBytesAsync(service.FashionMnistPngs[0]));
        if (contentType.Length > 0)
            content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        await AssertRejectedAsync(content, HttpStatusCode.UnsupportedMediaType, "is not accepted");
    }

    [Fact]
    public async Task A_url_encoded_form_gets_415()
    {
        await AssertRejectedAsync(new FormUrlEncodedContent([new("image", "abc")]), HttpStatusCode.UnsupportedMediaType, "multipart/form-data");
    }

    [Fact]
    public async Task A_multipart_form_without_a_file_gets_400()
    {
        var form = new MultipartFormDataContent { { new StringContent("hello"), "note" } };
        await AssertRejectedAsync(form, HttpStatusCode.BadRequest, "no file field");
    }

    [Fact]
    public async Task Get_on_predict_is_not_allowed()
    {
        using var response = await service.Client.GetAsync("predict");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        await AssertStillServesAsync();
    }

    private async Task AssertRejectedAsync(HttpContent content, HttpStatusCode expected, string messagePart, bool expectContinue = false, bool chunked = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "predict") { Content = content };
        // With 100-continue the client waits for the server's go-ahead, which a refused upload never gets,
        // instead of pushing 11 MB into a connection the server is closing.
        request.Headers.ExpectContinue = expectContinue;
        request.Headers.TransferEncodingChunked = chunked;
        using var response = await service.Client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("error").GetString();
        Assert.Contains(messagePart, error);
        await AssertStillServesAsync();
    }

    private async Task AssertStillServesAsync()
    {
        var file = service.FashionMnistPngs[1];
        using var content = TestImages.Body(await File.ReadAllBytesAsync(file), "image/png");
        using var response = await service.Client.PostAsync("predict", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(service.SerialAnswer(file).Label, (await response.Content.ReadFromJsonAsync<Prediction>())!.Label);
    }
}
