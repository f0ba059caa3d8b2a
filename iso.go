package paysync

import (
	"strings"
	"time"
)

// Reference data every dialect validates with. The lists are data, not
// logic: update them when ISO publishes an amendment.

// ValidCountry reports whether code is an ISO 3166-1 alpha-2 country code
// in upper case ("US", not "us"); dialects upper-case input first where
// their peer does.
func ValidCountry(code string) bool { return countries[code] }

// ValidCurrency reports whether code is an active ISO 4217 currency code in
// upper case.
func ValidCurrency(code string) bool {
	_, ok := currencies[code]
	return ok
}

// CurrencyInfo returns the ISO 4217 name of a currency and its CLDR English
// symbol (the code itself where CLDR has none).
func CurrencyInfo(code string) (name, symbol string, ok bool) {
	c, ok := currencies[code]
	return c.name, c.symbol, ok
}

// ValidLocale reports whether code is an ISO 639-1 two-letter language
// code, lower case.
func ValidLocale(code string) bool { return locales[code] }

// ValidTimezone reports whether name is an IANA time zone. "" and "Local"
// are refused: time.LoadLocation accepts them, but they mean the server's
// zone, not one the client chose. Binaries import time/tzdata so that this
// works on machines without a zoneinfo database.
func ValidTimezone(name string) bool {
	if name == "" || name == "Local" {
		return false
	}
	_, err := time.LoadLocation(name)
	return err == nil
}

func codeSet(codes string) map[string]bool {
	m := make(map[string]bool)
	for _, c := range strings.Fields(codes) {
		m[c] = true
	}
	return m
}

// countries is ISO 3166-1 alpha-2, all 249 officially assigned codes.
var countries = codeSet(
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE " +
		"BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD " +
		"CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM " +
		"DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF " +
		"GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU " +
		"ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN " +
		"KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME " +
		"MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA " +
		"NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM " +
		"PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI " +
		"SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK " +
		"TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI " +
		"VN VU WF WS YE YT ZA ZM ZW ",
)

// locales is ISO 639-1: every two-letter language code.
var locales = codeSet(
	"aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo " +
		"br bs ca ce ch co cr cs cu cv cy da de dv dz ee el en eo es " +
		"et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr " +
		"ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj " +
		"kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv " +
		"mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv " +
		"ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd " +
		"se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti " +
		"tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi " +
		"yo za zh zu ",
)

type currency struct{ name, symbol string }

// currencies is ISO 4217 List One: active codes, including funds and
// precious metals, without XTS (testing) and XXX (no currency). Codes
// withdrawn recently but still held by stored customers (CUC, SLL, ZWL,
// ANG) stay valid; HRK (replaced by EUR in 2023) does not. Symbols are
// CLDR's English ones.
var currencies = map[string]currency{
	"AED": {"UAE Dirham", "AED"},
	"AFN": {"Afghani", "AFN"},
	"ALL": {"Lek", "ALL"},
	"AMD": {"Armenian Dram", "AMD"},
	"ANG": {"Netherlands Antillean Guilder", "ANG"},
	"AOA": {"Kwanza", "Kz"},
	"ARS": {"Argentine Peso", "$"},
	"AUD": {"Australian Dollar", "A$"},
	"AWG": {"Aruban Florin", "AWG"},
	"AZN": {"Azerbaijan Manat", "AZN"},
	"BAM": {"Convertible Mark", "KM"},
	"BBD": {"Barbados Dollar", "$"},
	"BDT": {"Taka", "৳"},
	"BGN": {"Bulgarian Lev", "BGN"},
	"BHD": {"Bahraini Dinar", "BHD"},
	"BIF": {"Burundi Franc", "BIF"},
	"BMD": {"Bermudian Dollar", "$"},
	"BND": {"Brunei Dollar", "$"},
	"BOB": {"Boliviano", "Bs"},
	"BOV": {"Mvdol", "BOV"},
	"BRL": {"Brazilian Real", "R$"},
	"BSD": {"Bahamian Dollar", "$"},
	"BTN": {"Ngultrum", "BTN"},
	"BWP": {"Pula", "P"},
	"BYN": {"Belarusian Ruble", "р."},
	"BZD": {"Belize Dollar", "$"},
	"CAD": {"Canadian Dollar", "CA$"},
	"CDF": {"Congolese Franc", "CDF"},
	"CHE": {"WIR Euro", "CHE"},
	"CHF": {"Swiss Franc", "CHF"},
	"CHW": {"WIR Franc", "CHW"},
	"CLF": {"Unidad de Fomento", "CLF"},
	"CLP": {"Chilean Peso", "$"},
	"CNY": {"Yuan Renminbi", "CN¥"},
	"COP": {"Colombian Peso", "$"},
	"COU": {"Unidad de Valor Real", "COU"},
	"CRC": {"Costa Rican Colon", "₡"},
	"CUC": {"Peso Convertible", "$"},
	"CUP": {"Cuban Peso", "$"},
	"CVE": {"Cabo Verde Escudo", "CVE"},
	"CZK": {"Czech Koruna", "Kč"},
	"DJF": {"Djibouti Franc", "DJF"},
	"DKK": {"Danish Krone", "kr"},
	"DOP": {"Dominican Peso", "$"},
	"DZD": {"Algerian Dinar", "DZD"},
	"EGP": {"Egyptian Pound", "E£"},
	"ERN": {"Nakfa", "ERN"},
	"ETB": {"Ethiopian Birr", "ETB"},
	"EUR": {"Euro", "€"},
	"FJD": {"Fiji Dollar", "$"},
	"FKP": {"Falkland Islands Pound", "£"},
	"GBP": {"Pound Sterling", "£"},
	"GEL": {"Lari", "₾"},
	"GHS": {"Ghana Cedi", "GHS"},
	"GIP": {"Gibraltar Pound", "£"},
	"GMD": {"Dalasi", "GMD"},
	"GNF": {"Guinean Franc", "FG"},
	"GTQ": {"Quetzal", "Q"},
	"GYD": {"Guyana Dollar", "$"},
	"HKD": {"Hong Kong Dollar", "HK$"},
	"HNL": {"Lempira", "L"},
	"HTG": {"Gourde", "HTG"},
	"HUF": {"Forint", "Ft"},
	"IDR": {"Rupiah", "Rp"},
	"ILS": {"New Israeli Sheqel", "₪"},
	"INR": {"Indian Rupee", "₹"},
	"IQD": {"Iraqi Dinar", "IQD"},
	"IRR": {"Iranian Rial", "IRR"},
	"ISK": {"Iceland Krona", "kr"},
	"JMD": {"Jamaican Dollar", "$"},
	"JOD": {"Jordanian Dinar", "JOD"},
	"JPY": {"Yen", "¥"},
	"KES": {"Kenyan Shilling", "KES"},
	"KGS": {"Som", "KGS"},
	"KHR": {"Riel", "៛"},
	"KMF": {"Comorian Franc", "CF"},
	"KPW": {"North Korean Won", "₩"},
	"KRW": {"Won", "₩"},
	"KWD": {"Kuwaiti Dinar", "KWD"},
	"KYD": {"Cayman Islands Dollar", "$"},
	"KZT": {"Tenge", "₸"},
	"LAK": {"Lao Kip", "₭"},
	"LBP": {"Lebanese Pound", "L£"},
	"LKR": {"Sri Lanka Rupee", "Rs"},
	"LRD": {"Liberian Dollar", "$"},
	"LSL": {"Loti", "LSL"},
	"LYD": {"Libyan Dinar", "LYD"},
	"MAD": {"Moroccan Dirham", "MAD"},
	"MDL": {"Moldovan Leu", "MDL"},
	"MGA": {"Malagasy Ariary", "Ar"},
	"MKD": {"Denar", "MKD"},
	"MMK": {"Kyat", "K"},
	"MNT": {"Tugrik", "₮"},
	"MOP": {"Pataca", "MOP"},
	"MRU": {"Ouguiya", "MRU"},
	"MUR": {"Mauritius Rupee", "Rs"},
	"MVR": {"Rufiyaa", "MVR"},
	"MWK": {"Malawi Kwacha", "MWK"},
	"MXN": {"Mexican Peso", "MX$"},
	"MXV": {"Mexican Unidad de Inversion (UDI)", "MXV"},
	"MYR": {"Malaysian Ringgit", "RM"},
	"MZN": {"Mozambique Metical", "MZN"},
	"NAD": {"Namibia Dollar", "$"},
	"NGN": {"Naira", "₦"},
	"NIO": {"Cordoba Oro", "C$"},
	"NOK": {"Norwegian Krone", "kr"},
	"NPR": {"Nepalese Rupee", "Rs"},
	"NZD": {"New Zealand Dollar", "NZ$"},
	"OMR": {"Rial Omani", "OMR"},
	"PAB": {"Balboa", "PAB"},
	"PEN": {"Sol", "PEN"},
	"PGK": {"Kina", "PGK"},
	"PHP": {"Philippine Peso", "₱"},
	"PKR": {"Pakistan Rupee", "Rs"},
	"PLN": {"Zloty", "zł"},
	"PYG": {"Guarani", "₲"},
	"QAR": {"Qatari Rial", "QAR"},
	"RON": {"Romanian Leu", "lei"},
	"RSD": {"Serbian Dinar", "RSD"},
	"RUB": {"Russian Ruble", "₽"},
	"RWF": {"Rwanda Franc", "RF"},
	"SAR": {"Saudi Riyal", "SAR"},
	"SBD": {"Solomon Islands Dollar", "$"},
	"SCR": {"Seychelles Rupee", "SCR"},
	"SDG": {"Sudanese Pound", "SDG"},
	"SEK": {"Swedish Krona", "kr"},
	"SGD": {"Singapore Dollar", "$"},
	"SHP": {"Saint Helena Pound", "£"},
	"SLE": {"Leone", "SLE"},
	"SLL": {"Leone", "SLL"},
	"SOS": {"Somali Shilling", "SOS"},
	"SRD": {"Surinam Dollar", "$"},
	"SSP": {"South Sudanese Pound", "£"},
	"STN": {"Dobra", "STN"},
	"SVC": {"El Salvador Colon", "SVC"},
	"SYP": {"Syrian Pound", "£"},
	"SZL": {"Lilangeni", "SZL"},
	"THB": {"Baht", "฿"},
	"TJS": {"Somoni", "TJS"},
	"TMT": {"Turkmenistan New Manat", "TMT"},
	"TND": {"Tunisian Dinar", "TND"},
	"TOP": {"Pa\u2019anga", "T$"},
	"TRY": {"Turkish Lira", "₺"},
	"TTD": {"Trinidad and Tobago Dollar", "$"},
	"TWD": {"New Taiwan Dollar", "NT$"},
	"TZS": {"Tanzanian Shilling", "TZS"},
	"UAH": {"Hryvnia", "₴"},
	"UGX": {"Uganda Shilling", "UGX"},
	"USD": {"US Dollar", "$"},
	"USN": {"US Dollar (Next day)", "USN"},
	"UYI": {"Uruguay Peso en Unidades Indexadas (UI)", "UYI"},
	"UYU": {"Peso Uruguayo", "$"},
	"UYW": {"Unidad Previsional", "UYW"},
	"UZS": {"Uzbekistan Sum", "UZS"},
	"VED": {"Bol\u00edvar Soberano", "VED"},
	"VES": {"Bol\u00edvar Soberano", "VES"},
	"VND": {"Dong", "₫"},
	"VUV": {"Vatu", "VUV"},
	"WST": {"Tala", "WST"},
	"XAF": {"CFA Franc BEAC", "FCFA"},
	"XAG": {"Silver", "XAG"},
	"XAU": {"Gold", "XAU"},
	"XBA": {"Bond Markets Unit European Composite Unit (EURCO)", "XBA"},
	"XBB": {"Bond Markets Unit European Monetary Unit (E.M.U.-6)", "XBB"},
	"XBC": {"Bond Markets Unit European Unit of Account 9 (E.U.A.-9)", "XBC"},
	"XBD": {"Bond Markets Unit European Unit of Account 17 (E.U.A.-17)", "XBD"},
	"XCD": {"East Caribbean Dollar", "EC$"},
	"XCG": {"Caribbean Guilder", "XCG"},
	"XDR": {"SDR (Special Drawing Right)", "XDR"},
	"XOF": {"CFA Franc BCEAO", "CFA"},
	"XPD": {"Palladium", "XPD"},
	"XPF": {"CFP Franc", "CFPF"},
	"XPT": {"Platinum", "XPT"},
	"XSU": {"Sucre", "XSU"},
	"XUA": {"ADB Unit of Account", "XUA"},
	"YER": {"Yemeni Rial", "YER"},
	"ZAR": {"Rand", "R"},
	"ZMW": {"Zambian Kwacha", "ZK"},
	"ZWG": {"Zimbabwe Gold", "ZWG"},
	"ZWL": {"Zimbabwe Dollar", "ZWL"},
}
