package api

// lagoTimezones are the zones Lago accepts: "UTC" and the values of Rails'
// ActiveSupport::TimeZone::MAPPING, as its OpenAPI file lists them (both
// Europe/Kiev and Europe/Kyiv, which the file uses in different places).
// Lotus and Flexprice accept any IANA zone; Lago's view shows such a zone as
// stored.
var lagoTimezones = map[string]bool{
	"Africa/Algiers": true, "Africa/Cairo": true, "Africa/Casablanca": true, "Africa/Harare": true,
	"Africa/Johannesburg": true, "Africa/Monrovia": true, "Africa/Nairobi": true,
	"America/Argentina/Buenos_Aires": true, "America/Bogota": true, "America/Caracas": true,
	"America/Chicago": true, "America/Chihuahua": true, "America/Denver": true,
	"America/Godthab": true, "America/Guatemala": true, "America/Guyana": true,
	"America/Halifax": true, "America/Indiana/Indianapolis": true, "America/Juneau": true,
	"America/La_Paz": true, "America/Lima": true, "America/Los_Angeles": true,
	"America/Mazatlan": true, "America/Mexico_City": true, "America/Monterrey": true,
	"America/Montevideo": true, "America/New_York": true, "America/Nuuk": true,
	"America/Phoenix": true, "America/Puerto_Rico": true, "America/Regina": true,
	"America/Santiago": true, "America/Sao_Paulo": true, "America/St_Johns": true,
	"America/Tijuana": true, "Asia/Almaty": true, "Asia/Baghdad": true, "Asia/Baku": true,
	"Asia/Bangkok": true, "Asia/Chongqing": true, "Asia/Colombo": true, "Asia/Dhaka": true,
	"Asia/Hong_Kong": true, "Asia/Irkutsk": true, "Asia/Jakarta": true, "Asia/Jerusalem": true,
	"Asia/Kabul": true, "Asia/Kamchatka": true, "Asia/Karachi": true, "Asia/Kathmandu": true,
	"Asia/Kolkata": true, "Asia/Krasnoyarsk": true, "Asia/Kuala_Lumpur": true, "Asia/Kuwait": true,
	"Asia/Magadan": true, "Asia/Muscat": true, "Asia/Novosibirsk": true, "Asia/Rangoon": true,
	"Asia/Riyadh": true, "Asia/Seoul": true, "Asia/Shanghai": true, "Asia/Singapore": true,
	"Asia/Srednekolymsk": true, "Asia/Taipei": true, "Asia/Tashkent": true, "Asia/Tbilisi": true,
	"Asia/Tehran": true, "Asia/Tokyo": true, "Asia/Ulaanbaatar": true, "Asia/Urumqi": true,
	"Asia/Vladivostok": true, "Asia/Yakutsk": true, "Asia/Yangon": true, "Asia/Yekaterinburg": true,
	"Asia/Yerevan": true, "Atlantic/Azores": true, "Atlantic/Cape_Verde": true,
	"Atlantic/South_Georgia": true, "Australia/Adelaide": true, "Australia/Brisbane": true,
	"Australia/Darwin": true, "Australia/Hobart": true, "Australia/Melbourne": true,
	"Australia/Perth": true, "Australia/Sydney": true, "Europe/Amsterdam": true,
	"Europe/Athens": true, "Europe/Belgrade": true, "Europe/Berlin": true, "Europe/Bratislava": true,
	"Europe/Brussels": true, "Europe/Bucharest": true, "Europe/Budapest": true,
	"Europe/Copenhagen": true, "Europe/Dublin": true, "Europe/Helsinki": true,
	"Europe/Istanbul": true, "Europe/Kaliningrad": true, "Europe/Kiev": true, "Europe/Kyiv": true,
	"Europe/Lisbon": true, "Europe/Ljubljana": true, "Europe/London": true, "Europe/Madrid": true,
	"Europe/Minsk": true, "Europe/Moscow": true, "Europe/Paris": true, "Europe/Prague": true,
	"Europe/Riga": true, "Europe/Rome": true, "Europe/Samara": true, "Europe/Sarajevo": true,
	"Europe/Skopje": true, "Europe/Sofia": true, "Europe/Stockholm": true, "Europe/Tallinn": true,
	"Europe/Vienna": true, "Europe/Vilnius": true, "Europe/Volgograd": true, "Europe/Warsaw": true,
	"Europe/Zagreb": true, "Europe/Zurich": true, "GMT+12": true, "Pacific/Apia": true,
	"Pacific/Auckland": true, "Pacific/Chatham": true, "Pacific/Fakaofo": true, "Pacific/Fiji": true,
	"Pacific/Guadalcanal": true, "Pacific/Guam": true, "Pacific/Honolulu": true,
	"Pacific/Majuro": true, "Pacific/Midway": true, "Pacific/Noumea": true, "Pacific/Pago_Pago": true,
	"Pacific/Port_Moresby": true, "Pacific/Tongatapu": true, "UTC": true,
}
